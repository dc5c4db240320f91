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
        let on_progress = if options.is_undefined() || options.is_null() {
            JsValue::UNDEFINED
        } else {
            js_sys::Reflect::get(&options, &JsValue::from_str("onProgress"))
                .unwrap_or(JsValue::UNDEFINED)
        };
        let file = blob(&file);
        let c = if !on_progress.is_undefined() && !on_progress.is_function() {
            Err(to_js_error(Error::InvalidArgument(
                "options.onProgress must be a function".into(),
            )))
        } else {
            file.as_ref()
                .map(|_| Call::UploadFile { filename, bucket })
                .map_err(Clone::clone)
        };
        upload(
            &self.core,
            c,
            file.as_ref().unwrap_or(&JsValue::NULL),
            &on_progress,
        )
    }

    /// Resolves to the `Response` carrying the file (call `.blob()` on it).
    #[wasm_bindgen(js_name = getFile)]
    pub fn get_file(&self, user_id: String, filename: String) -> Promise {
        call_as(&self.core, Ok(Call::GetFile(user_id, filename)), Kind::File)
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
        let file = blob(&file);
        let c = file
            .as_ref()
            .map(|_| Call::OverwriteFile(filename))
            .map_err(Clone::clone);
        let none = JsValue::UNDEFINED;
        upload(&self.core, c, file.as_ref().unwrap_or(&none), &none)
    }

    /// Deletes a file; resolves to `{ deletedRecord }`.
    #[wasm_bindgen(js_name = deleteFile)]
    pub fn delete_file(&self, filename: String) -> Promise {
        call(&self.core, Ok(Call::DeleteFile(filename)))
    }
}

/// A `Blob` (or `File`) as is; a `FormData`'s `file` entry (else its first file); a
/// `Uint8Array`, `ArrayBuffer` or string wrapped in a `Blob`.
fn blob(file: &JsValue) -> Result<JsValue, JsValue> {
    let b = as_blob(file);
    if b.is_null() {
        return Err(to_js_error(Error::InvalidArgument(
            "file must be a File, Blob, Uint8Array, ArrayBuffer, string or a FormData with a file"
                .into(),
        )));
    }
    Ok(b)
}
