//! `sdk.db`: collections and their records, and the mapping of `find`'s options.

use super::*;
use sdk_core::api::JsonText;
use sdk_core::query::find_params;

/// `sdk.db`.
#[wasm_bindgen]
pub struct Db {
    pub(crate) core: Shared,
}

#[wasm_bindgen]
impl Db {
    /// The names of the collections that hold records.
    #[wasm_bindgen(js_name = getCollectionList)]
    pub fn get_collection_list(&self) -> Promise {
        call(&self.core, Ok(Call::GetCollectionList))
    }

    /// The same as `getCollectionList` (the document uses both spellings).
    #[wasm_bindgen(js_name = getCollectionsList)]
    pub fn get_collections_list(&self) -> Promise {
        call(&self.core, Ok(Call::GetCollectionList))
    }

    /// Declares a collection; returns its name.
    #[wasm_bindgen(js_name = createNewCollection)]
    pub fn create_new_collection(&self, collection_name: String) -> Promise {
        call(&self.core, Ok(Call::CreateNewCollection(collection_name)))
    }

    /// Every record of a collection, oldest first: read page by page, each page
    /// resuming after the last record of the one before (the server gives the
    /// `after` cursor).
    #[wasm_bindgen(js_name = getCollection)]
    pub fn get_collection(&self, collection: String) -> Promise {
        let c = Call::FindPage(collection, Vec::new());
        call_as(&self.core, Ok(c), Kind::All)
    }

    /// A query: `find(collection, query?, options?)`. `query` is a `where` string
    /// (`'age >= 18 AND city = "Paris"'`) or a Mongo-style object (`{ age: { $gte: 18 } }`);
    /// `options` may hold `where`, `q`, `sortBy`, `offset`, `pageSize`, `select`,
    /// `distinct`, `load` (strings or arrays of strings), `count: true` (the answer is a
    /// number), and `params` (more `field: value` equalities).
    pub fn find(&self, collection: String, query: JsValue, options: JsValue) -> Promise {
        let c = query_params(&query, &options).map(|params| Call::Find(collection, params));
        call(&self.core, c)
    }

    /// One page of a query and where the next starts: `{ records, after }`, where
    /// `after` (a string, or `null` after the last page) goes into the next call's
    /// options as `after`. Takes `find`'s arguments; each page costs what the
    /// first does, however deep.
    #[wasm_bindgen(js_name = findPage)]
    pub fn find_page(&self, collection: String, query: JsValue, options: JsValue) -> Promise {
        let c = query_params(&query, &options).map(|params| Call::FindPage(collection, params));
        call_as(&self.core, c, Kind::Page)
    }

    /// Creates records from an array of objects, all or nothing; resolves to them.
    #[wasm_bindgen(js_name = insertMany)]
    pub fn insert_many(&self, collection: String, objects: JsValue) -> Promise {
        let c = json_arg(&objects, "objects", true)
            .map(|items| Call::InsertMany(collection, JsonText::new(items)));
        call(&self.core, c)
    }

    /// Applies an update spec (`{ $set: {...}, $inc: {...} }`) to every matching
    /// record the caller owns, all or nothing; resolves to `{ n }`.
    #[wasm_bindgen(js_name = updateMany)]
    pub fn update_many(&self, collection: String, query: JsValue, spec: JsValue) -> Promise {
        let c = filter_params(&query).and_then(|params| {
            let spec = JsonText::new(json_arg(&spec, "the update", false)?);
            Ok(Call::UpdateMany(collection, params, spec))
        });
        call(&self.core, c)
    }

    /// Deletes every matching record the caller owns, all or nothing; resolves to `{ n }`.
    #[wasm_bindgen(js_name = deleteMany)]
    pub fn delete_many(&self, collection: String, query: JsValue) -> Promise {
        let c = filter_params(&query).map(|params| Call::DeleteMany(collection, params));
        call(&self.core, c)
    }

    /// One record.
    #[wasm_bindgen(js_name = getResource)]
    pub fn get_resource(&self, collection: String, id: String) -> Promise {
        call(&self.core, Ok(Call::GetResource(collection, id)))
    }

    /// Creates a record; returns it with `_id`, `createdAt`, `updatedAt`, `__v`.
    #[wasm_bindgen(js_name = createResource)]
    pub fn create_resource(&self, collection: String, data: JsValue) -> Promise {
        let c = data_arg(&data).map(|data| Call::CreateResource(collection, data));
        call(&self.core, c)
    }

    /// Merges `data` into a record (a `null` value removes the field); returns the record.
    #[wasm_bindgen(js_name = updateResource)]
    pub fn update_resource(&self, collection: String, id: String, data: JsValue) -> Promise {
        let c = data_arg(&data).map(|data| Call::UpdateResource(collection, id, data));
        call(&self.core, c)
    }

    /// Replaces a record's fields with `data`; returns the record.
    #[wasm_bindgen(js_name = overwriteResource)]
    pub fn overwrite_resource(&self, collection: String, id: String, data: JsValue) -> Promise {
        let c = data_arg(&data).map(|data| Call::OverwriteResource(collection, id, data));
        call(&self.core, c)
    }

    /// Deletes a record; returns it as it was.
    #[wasm_bindgen(js_name = deleteResource)]
    pub fn delete_resource(&self, collection: String, id: String) -> Promise {
        call(&self.core, Ok(Call::DeleteResource(collection, id)))
    }
}

/// A record's fields, as JSON text.
fn data_arg(data: &JsValue) -> Result<JsonText, JsValue> {
    json_arg(data, "data", false).map(JsonText::new)
}

/// `find`'s query and options as query-string parameters.
fn query_params(query: &JsValue, options: &JsValue) -> Result<Vec<(String, String)>, JsValue> {
    find_params(&view(query), &view(options)).map_err(to_js_error)
}

/// The filter parameters of a bulk write: a `where` string, a query object, or nothing.
fn filter_params(query: &JsValue) -> Result<Vec<(String, String)>, JsValue> {
    find_params(&view(query), &view(&JsValue::NULL)).map_err(to_js_error)
}
