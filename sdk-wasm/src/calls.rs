//! The methods of `sdk.auth`, `sdk.db` and `sdk.storage`, as sdk-core calls.
//!
//! They follow the Backpack SDK document name for name: `auth.register/login/
//! logout/me/changePassword/deleteAccount`; `db.getCollectionList` (also
//! spelled `getCollectionsList`), `createNewCollection`, `getCollection` (every
//! record, page by page), `find`, `findPage`, `insertMany`, `updateMany`,
//! `deleteMany`, `getResource`, `createResource`, `updateResource`,
//! `overwriteResource`, `deleteResource`; `storage.uploadFile`, `getFile`,
//! `getListOfUserFiles`, `updateFile` (also `updateFil`), `overwriteFile`,
//! `deleteFile`. `js/http.js` makes one JavaScript function per name of
//! [`METHODS`]; each hands its arguments to [`call_for`], which checks them and
//! names the call, and carries the request sdk-core prepares for it.

use super::*;
use sdk_core::api::JsonText;
use sdk_core::query::find_params;

/// Every method, as `module.name`, separated by commas.
pub(crate) const METHODS: &str = concat!(
    "auth.register,",
    "auth.login,",
    "auth.me,",
    "auth.changePassword,",
    "auth.deleteAccount,",
    "auth.logout,",
    "db.getCollectionList,",
    "db.getCollectionsList,",
    "db.createNewCollection,",
    "db.getCollection,",
    "db.find,",
    "db.findPage,",
    "db.insertMany,",
    "db.updateMany,",
    "db.deleteMany,",
    "db.getResource,",
    "db.createResource,",
    "db.updateResource,",
    "db.overwriteResource,",
    "db.deleteResource,",
    "storage.uploadFile,",
    "storage.getFile,",
    "storage.getListOfUserFiles,",
    "storage.updateFile,",
    "storage.updateFil,",
    "storage.overwriteFile,",
    "storage.deleteFile",
);

/// A method's arguments, as JavaScript passed them.
pub(crate) struct Args(pub js_sys::Array);

impl Args {
    /// Argument `i` (`undefined` when not given).
    pub(crate) fn get(&self, i: u32) -> JsValue {
        self.0.get(i)
    }

    /// Argument `i`, which must be a string (`name` says which, in the error).
    pub(crate) fn str(&self, i: u32, name: &str) -> Result<String, JsValue> {
        self.get(i).as_string().ok_or_else(|| {
            to_js_error(Error::InvalidArgument([name, " must be a string"].concat()))
        })
    }
}

/// What a method sends, and how its answer is read; with the file it uploads, if any.
pub(crate) fn call_for(op: &str, a: &Args) -> Result<(Call, Kind), JsValue> {
    let one = |c: Call| Ok((c, Kind::One));
    let credentials = || -> Result<Credentials, JsValue> {
        Ok(Credentials {
            email: a.str(0, "email")?,
            password: a.str(1, "password")?,
        })
    };
    let coll = || a.str(0, "collection");
    let id = || a.str(1, "id");
    let data = |i: u32| json_arg(&a.get(i), "data", false).map(JsonText::new);
    match op {
        "auth.register" => one(Call::Register(credentials()?)),
        "auth.login" => one(Call::Login(credentials()?)),
        "auth.me" => one(Call::Me),
        "auth.changePassword" => one(Call::ChangePassword {
            current: a.str(0, "currentPassword")?,
            new: a.str(1, "newPassword")?,
        }),
        "auth.deleteAccount" => one(Call::DeleteAccount(a.str(0, "password")?)),
        "auth.logout" => one(Call::Logout),
        "db.getCollectionList" | "db.getCollectionsList" => one(Call::GetCollectionList),
        "db.createNewCollection" => one(Call::CreateNewCollection(a.str(0, "collectionName")?)),
        "db.getCollection" => Ok((Call::FindPage(coll()?, Vec::new()), Kind::All)),
        "db.find" => one(Call::Find(coll()?, query_params(&a.get(1), &a.get(2))?)),
        "db.findPage" => Ok((
            Call::FindPage(coll()?, query_params(&a.get(1), &a.get(2))?),
            Kind::Page,
        )),
        "db.insertMany" => {
            let items = json_arg(&a.get(1), "objects", true)?;
            one(Call::InsertMany(coll()?, JsonText::new(items)))
        }
        "db.updateMany" => {
            let spec = JsonText::new(json_arg(&a.get(2), "the update", false)?);
            one(Call::UpdateMany(
                coll()?,
                query_params(&a.get(1), &JsValue::NULL)?,
                spec,
            ))
        }
        "db.deleteMany" => one(Call::DeleteMany(
            coll()?,
            query_params(&a.get(1), &JsValue::NULL)?,
        )),
        "db.getResource" => one(Call::GetResource(coll()?, id()?)),
        "db.createResource" => one(Call::CreateResource(coll()?, data(1)?)),
        "db.updateResource" => one(Call::UpdateResource(coll()?, id()?, data(2)?)),
        "db.overwriteResource" => one(Call::OverwriteResource(coll()?, id()?, data(2)?)),
        "db.deleteResource" => one(Call::DeleteResource(coll()?, id()?)),
        "storage.uploadFile" => {
            let filename = a.str(1, "filename")?;
            let bucket = a.str(2, "bucket")?;
            let upload = upload_of(&a.get(0), &a.get(3))?;
            Ok((Call::UploadFile { filename, bucket }, upload))
        }
        "storage.getFile" => Ok((
            Call::GetFile(a.str(0, "userId")?, a.str(1, "filename")?),
            Kind::File,
        )),
        "storage.getListOfUserFiles" => one(Call::GetListOfUserFiles(a.str(0, "userId")?)),
        "storage.updateFile" | "storage.updateFil" => one(Call::UpdateFile {
            current: a.str(0, "currentFilename")?,
            new: a.str(1, "newFilename")?,
            bucket: a.str(2, "bucket")?,
        }),
        "storage.overwriteFile" => {
            let filename = a.str(1, "filename")?;
            let upload = upload_of(&a.get(0), &JsValue::UNDEFINED)?;
            Ok((Call::OverwriteFile(filename), upload))
        }
        "storage.deleteFile" => one(Call::DeleteFile(a.str(0, "filename")?)),
        _ => Err(to_js_error(Error::InvalidArgument(
            ["no method ", op].concat(),
        ))),
    }
}

/// `find`'s query and options as query-string parameters.
fn query_params(query: &JsValue, options: &JsValue) -> Result<Vec<(String, String)>, JsValue> {
    find_params(&view(query), &view(options)).map_err(to_js_error)
}

/// The upload of `file` (a `File`, `Blob`, `FormData` with a file, `Uint8Array`,
/// `ArrayBuffer` or string), heard of by `options.onProgress` when given.
fn upload_of(file: &JsValue, options: &JsValue) -> Result<Kind, JsValue> {
    let on_progress = if options.is_undefined() || options.is_null() {
        JsValue::UNDEFINED
    } else {
        js_sys::Reflect::get(options, &JsValue::from_str("onProgress")).unwrap_or_default()
    };
    if !on_progress.is_undefined() && !on_progress.is_function() {
        return Err(to_js_error(Error::InvalidArgument(
            "options.onProgress must be a function".into(),
        )));
    }
    let blob = as_blob(file);
    if blob.is_null() {
        return Err(to_js_error(Error::InvalidArgument(
            "file must be a File, Blob, Uint8Array, ArrayBuffer, string or a FormData with a file"
                .into(),
        )));
    }
    Ok(Kind::Upload { blob, on_progress })
}
