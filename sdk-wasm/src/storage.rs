//! `sdk.storage`: the signed-in user's files.

use super::*;

/// `sdk.storage`.
#[wasm_bindgen]
pub struct Storage {
    pub(crate) core: Shared,
}

#[wasm_bindgen]
impl Storage {
    /// Uploads a `File`, `Blob` or `Uint8Array` as `filename` in `bucket`; resolves to
    /// its metadata record.
    /// `options.onProgress({loaded, total})` hears how far the upload is (in
    /// browsers as the bytes go; in Node.js once, when they are sent).
    #[wasm_bindgen(js_name = uploadFile)]
    pub fn upload_file(
        &self,
        file: JsValue,
        filename: String,
        bucket: String,
        options: JsValue,
    ) -> Promise {
        let upload = || -> Result<(Call, Option<Upload>), JsValue> {
            let on_progress = if options.is_undefined() || options.is_null() {
                None
            } else {
                let f = js_sys::Reflect::get(&options, &JsValue::from_str("onProgress"))
                    .unwrap_or(JsValue::UNDEFINED);
                if f.is_undefined() {
                    None
                } else {
                    Some(f.dyn_into::<js_sys::Function>().map_err(|_| {
                        to_js_error(Error::InvalidArgument(
                            "options.onProgress must be a function".into(),
                        ))
                    })?)
                }
            };
            let upload = Upload {
                blob: as_blob(file)?,
                on_progress,
            };
            Ok((Call::UploadFile { filename, bucket }, Some(upload)))
        };
        call_with(&self.core, upload())
    }

    /// Resolves to the `Response` carrying the file (call `.blob()` on it).
    #[wasm_bindgen(js_name = getFile)]
    pub fn get_file(&self, user_id: String, filename: String) -> Promise {
        let core = self.core.clone();
        boxed(async move {
            let call = Call::GetFile(user_id, filename);
            let req = core.borrow().prepare(&call).map_err(to_js_error)?;
            let resp = fetch(req, None).await.map_err(to_js_error)?;
            if resp.ok() {
                return Ok(resp.into());
            }
            let (status, body) = read(resp).await.map_err(to_js_error)?;
            answer(&core, &call, status, &body)?;
            Err(to_js_error(Error::Decode("unexpected status".into())))
        })
    }

    /// Resolves to `{ records: [...] }`: all of a user's files for the user, the public ones for others.
    #[wasm_bindgen(js_name = getListOfUserFiles)]
    pub fn get_list_of_user_files(&self, user_id: String) -> Promise {
        call(&self.core, Ok(Call::GetListOfUserFiles(user_id)))
    }

    /// Renames a file and files it under `bucket`; resolves to `{ record }`.
    #[wasm_bindgen(js_name = updateFile)]
    pub fn update_file(
        &self,
        current_filename: String,
        new_filename: String,
        bucket: String,
    ) -> Promise {
        let c = Call::UpdateFile {
            current: current_filename,
            new: new_filename,
            bucket,
        };
        call(&self.core, Ok(c))
    }

    /// The same as `updateFile`: the Backpack document's example spells it so.
    #[wasm_bindgen(js_name = updateFil)]
    pub fn update_fil(
        &self,
        current_filename: String,
        new_filename: String,
        bucket: String,
    ) -> Promise {
        self.update_file(current_filename, new_filename, bucket)
    }

    /// Replaces a file's bytes; resolves to `{ message: "file overwritten" }`.
    #[wasm_bindgen(js_name = overwriteFile)]
    pub fn overwrite_file(&self, file: JsValue, filename: String) -> Promise {
        let upload = as_blob(file).map(|b| (Call::OverwriteFile(filename), Some(b.into())));
        call_with(&self.core, upload)
    }

    /// Deletes a file; resolves to `{ deletedRecord }`.
    #[wasm_bindgen(js_name = deleteFile)]
    pub fn delete_file(&self, filename: String) -> Promise {
        call(&self.core, Ok(Call::DeleteFile(filename)))
    }
}

/// A `Blob` (or `File`) as is; a `FormData`'s `file` entry (else its first file); a
/// `Uint8Array`, `ArrayBuffer` or string wrapped in a `Blob`.
fn as_blob(file: JsValue) -> Result<web_sys::Blob, JsValue> {
    if file.is_instance_of::<web_sys::Blob>() {
        return Ok(file.unchecked_into());
    }
    if let Some(form) = file.dyn_ref::<web_sys::FormData>() {
        let named = form.get("file");
        if named.is_instance_of::<web_sys::Blob>() {
            return Ok(named.unchecked_into());
        }
        let entries = js_sys::try_iter(&form.values()).ok().flatten();
        for entry in entries.into_iter().flatten().flatten() {
            if entry.is_instance_of::<web_sys::Blob>() {
                return Ok(entry.unchecked_into());
            }
        }
        return Err(to_js_error(Error::InvalidArgument(
            "the FormData holds no file".into(),
        )));
    }
    if file.is_instance_of::<js_sys::Uint8Array>()
        || file.is_instance_of::<js_sys::ArrayBuffer>()
        || file.is_string()
    {
        let parts = js_sys::Array::of1(&file);
        return web_sys::Blob::new_with_u8_array_sequence(&parts);
    }
    Err(to_js_error(Error::InvalidArgument(
        "file must be a File, Blob, FormData, Uint8Array, ArrayBuffer or string".into(),
    )))
}
