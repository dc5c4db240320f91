//! `sdk.db`: collections and their records, and the mapping of `find`'s options.

use super::*;
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
    pub async fn get_collection_list(&self) -> Result<JsValue, JsValue> {
        run(&self.core, Call::GetCollectionList).await
    }

    /// The same as `getCollectionList` (the document uses both spellings).
    #[wasm_bindgen(js_name = getCollectionsList)]
    pub async fn get_collections_list(&self) -> Result<JsValue, JsValue> {
        run(&self.core, Call::GetCollectionList).await
    }

    /// Declares a collection; returns its name.
    #[wasm_bindgen(js_name = createNewCollection)]
    pub async fn create_new_collection(&self, collection_name: String) -> Result<JsValue, JsValue> {
        run(&self.core, Call::CreateNewCollection(collection_name)).await
    }

    /// Every record of a collection, oldest first: read page by page, each page
    /// resuming after the last record of the one before (the server gives the
    /// `after` cursor).
    #[wasm_bindgen(js_name = getCollection)]
    pub async fn get_collection(&self, collection: String) -> Result<JsValue, JsValue> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let params: Vec<(String, String)> = after
                .iter()
                .map(|a| ("after".to_owned(), a.clone()))
                .collect();
            let (page, next) =
                run_page(&self.core, Call::FindPage(collection.clone(), params)).await?;
            let serde_json::Value::Array(page) = page else {
                return Err(to_js_error(Error::Decode(
                    "the answer is not a list".into(),
                )));
            };
            all.extend(page);
            // A server that ignored the cursor would give the same one again.
            if next.is_none() || next == after {
                break;
            }
            after = next;
        }
        js_sys::JSON::parse(&serde_json::Value::Array(all).to_string())
            .map_err(|_| to_js_error(Error::Decode("the answer is not JSON".into())))
    }

    /// A query: `find(collection, query?, options?)`. `query` is a `where` string
    /// (`'age >= 18 AND city = "Paris"'`) or a Mongo-style object (`{ age: { $gte: 18 } }`);
    /// `options` may hold `where`, `q`, `sortBy`, `offset`, `pageSize`, `select`,
    /// `distinct`, `load` (strings or arrays of strings), `count: true` (the answer is a
    /// number), and `params` (more `field: value` equalities).
    pub async fn find(
        &self,
        collection: String,
        query: JsValue,
        options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let query = if query.is_undefined() || query.is_null() {
            serde_json::Value::Null
        } else {
            to_json(&query)?
        };
        let options = if options.is_undefined() || options.is_null() {
            serde_json::Value::Null
        } else {
            to_json(&options)?
        };
        let params = find_params(&query, &options).map_err(to_js_error)?;
        run(&self.core, Call::Find(collection, params)).await
    }

    /// One page of a query and where the next starts: `{ records, after }`, where
    /// `after` (a string, or `null` after the last page) goes into the next call's
    /// options as `after`. Takes `find`'s arguments; each page costs what the
    /// first does, however deep.
    #[wasm_bindgen(js_name = findPage)]
    pub async fn find_page(
        &self,
        collection: String,
        query: JsValue,
        options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let query = if query.is_undefined() || query.is_null() {
            serde_json::Value::Null
        } else {
            to_json(&query)?
        };
        let options = if options.is_undefined() || options.is_null() {
            serde_json::Value::Null
        } else {
            to_json(&options)?
        };
        let params = find_params(&query, &options).map_err(to_js_error)?;
        let (records, after) = run_page(&self.core, Call::FindPage(collection, params)).await?;
        if !records.is_array() {
            return Err(to_js_error(Error::InvalidArgument(
                "findPage reads records, not a count".into(),
            )));
        }
        let out = serde_json::json!({ "records": records, "after": after });
        js_sys::JSON::parse(&out.to_string())
            .map_err(|_| to_js_error(Error::Decode("the answer is not JSON".into())))
    }

    /// Creates records from an array of objects, all or nothing; resolves to them.
    #[wasm_bindgen(js_name = insertMany)]
    pub async fn insert_many(
        &self,
        collection: String,
        objects: JsValue,
    ) -> Result<JsValue, JsValue> {
        let items = to_json(&objects)?;
        run(&self.core, Call::InsertMany(collection, items)).await
    }

    /// Applies an update spec (`{ $set: {...}, $inc: {...} }`) to every matching
    /// record the caller owns, all or nothing; resolves to `{ n }`.
    #[wasm_bindgen(js_name = updateMany)]
    pub async fn update_many(
        &self,
        collection: String,
        query: JsValue,
        spec: JsValue,
    ) -> Result<JsValue, JsValue> {
        let params = filter_params(&query)?;
        let spec = to_json(&spec)?;
        run(&self.core, Call::UpdateMany(collection, params, spec)).await
    }

    /// Deletes every matching record the caller owns, all or nothing; resolves to `{ n }`.
    #[wasm_bindgen(js_name = deleteMany)]
    pub async fn delete_many(
        &self,
        collection: String,
        query: JsValue,
    ) -> Result<JsValue, JsValue> {
        let params = filter_params(&query)?;
        run(&self.core, Call::DeleteMany(collection, params)).await
    }

    /// One record.
    #[wasm_bindgen(js_name = getResource)]
    pub async fn get_resource(&self, collection: String, id: String) -> Result<JsValue, JsValue> {
        run(&self.core, Call::GetResource(collection, id)).await
    }

    /// Creates a record; returns it with `_id`, `createdAt`, `updatedAt`, `__v`.
    #[wasm_bindgen(js_name = createResource)]
    pub async fn create_resource(
        &self,
        collection: String,
        data: JsValue,
    ) -> Result<JsValue, JsValue> {
        let data = to_json(&data)?;
        run(&self.core, Call::CreateResource(collection, data)).await
    }

    /// Merges `data` into a record (a `null` value removes the field); returns the record.
    #[wasm_bindgen(js_name = updateResource)]
    pub async fn update_resource(
        &self,
        collection: String,
        id: String,
        data: JsValue,
    ) -> Result<JsValue, JsValue> {
        let data = to_json(&data)?;
        run(&self.core, Call::UpdateResource(collection, id, data)).await
    }

    /// Replaces a record's fields with `data`; returns the record.
    #[wasm_bindgen(js_name = overwriteResource)]
    pub async fn overwrite_resource(
        &self,
        collection: String,
        id: String,
        data: JsValue,
    ) -> Result<JsValue, JsValue> {
        let data = to_json(&data)?;
        run(&self.core, Call::OverwriteResource(collection, id, data)).await
    }

    /// Deletes a record; returns it as it was.
    #[wasm_bindgen(js_name = deleteResource)]
    pub async fn delete_resource(
        &self,
        collection: String,
        id: String,
    ) -> Result<JsValue, JsValue> {
        run(&self.core, Call::DeleteResource(collection, id)).await
    }
}

/// A JS value as JSON, through `JSON.stringify` (so `toJSON`, dates and the
/// like behave exactly as in any JS client).
/// The filter parameters of a bulk write: a `where` string, a query object, or nothing.
fn filter_params(query: &JsValue) -> Result<Vec<(String, String)>, JsValue> {
    let q = if query.is_undefined() || query.is_null() {
        serde_json::Value::Null
    } else {
        to_json(query)?
    };
    find_params(&q, &serde_json::Value::Null).map_err(to_js_error)
}
