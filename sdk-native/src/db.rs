//! `sdk.db`: collections and their records.

use super::*;

/// `sdk.db`: collections and records. `T` is the type of a record's own fields.
pub struct Db<'a> {
    pub(crate) sdk: &'a Sdk,
}

impl Db<'_> {
    /// Names of the collections that hold records.
    pub async fn get_collection_list(&self) -> Result<Vec<String>> {
        self.sdk.call_as(Call::GetCollectionList).await
    }

    /// Declares a collection; it is listed once it holds a record. Returns the name.
    pub async fn create_new_collection(&self, name: &str) -> Result<String> {
        self.sdk
            .call_as(Call::CreateNewCollection(name.into()))
            .await
    }

    /// Every record of a collection, oldest first, read page by page (see
    /// [`Db::find_all`]).
    pub async fn get_collection<T: DeserializeOwned>(
        &self,
        collection: &str,
    ) -> Result<Vec<Record<T>>> {
        self.find_all(collection, &FindQuery::new()).await
    }

    /// Every record a query selects, read page by page: each page resumes after
    /// the last record of the one before (the `after` cursor), so a deep page
    /// costs what the first does and no record is skipped or repeated while
    /// others are added. The page size is the query's, or the server's default.
    ///
    /// ```no_run
    /// # async fn demo(sdk: &rucksack::Sdk) -> rucksack::Result<()> {
    /// use rucksack::query::FindQuery;
    /// let q = FindQuery::new().sort_desc("createdAt").page_size(500);
    /// let all = sdk.db().find_all::<serde_json::Value>("messages", &q).await?;
    /// # Ok(()) }
    /// ```
    pub async fn find_all<T: DeserializeOwned>(
        &self,
        collection: &str,
        query: &FindQuery,
    ) -> Result<Vec<Record<T>>> {
        let mut out = Vec::new();
        let mut next = Some(query.clone());
        while let Some(q) = next {
            let page: Vec<Value> = self.find_as(collection, &q).await?;
            next = q.next_page(&page).filter(|n| n.after != q.after);
            for v in page {
                out.push(serde_json::from_value(v).map_err(|e| Error::Decode(e.to_string()))?);
            }
        }
        Ok(out)
    }

    /// The records a query selects, as typed records.
    ///
    /// ```no_run
    /// # async fn demo(sdk: &rucksack::Sdk) -> rucksack::Result<()> {
    /// use rucksack::query::{Filter, FindQuery};
    /// #[derive(serde::Deserialize)]
    /// struct Recipe { title: String, likes: i64 }
    ///
    /// let q = FindQuery::new()
    ///     .filter(Filter::gte("likes", 10).and(Filter::like("title", "lasagna")))
    ///     .sort_desc("likes")
    ///     .page_size(20);
    /// let top = sdk.db().find::<Recipe>("recipes", &q).await?;
    /// for r in top {
    ///     println!("{} {}: {}", r.id, r.data.title, r.data.likes);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn find<T: DeserializeOwned>(
        &self,
        collection: &str,
        query: &FindQuery,
    ) -> Result<Vec<Record<T>>> {
        self.find_as(collection, query).await
    }

    /// The answer to a query, decoded as `T`: use it with `select` or `load`
    /// (`Vec<serde_json::Value>` or a struct of the selected fields).
    pub async fn find_as<T: DeserializeOwned>(
        &self,
        collection: &str,
        query: &FindQuery,
    ) -> Result<T> {
        self.sdk
            .call_as(Call::Find(collection.into(), query.to_pairs()))
            .await
    }

    /// How many records match `filter` (all of them with `None`).
    pub async fn count(&self, collection: &str, filter: Option<Filter>) -> Result<u64> {
        let mut q = FindQuery::new();
        q.filter = filter;
        q.count = true;
        self.find_as(collection, &q).await
    }

    /// A read with query-string parameters exactly as written, e.g. taken from a
    /// URL: `[("where", "age >= 18"), ("sortBy", "age desc")]`.
    pub async fn find_with_params(
        &self,
        collection: &str,
        params: &[(&str, &str)],
    ) -> Result<Value> {
        let params = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.sdk
            .call_as(Call::Find(collection.into(), params))
            .await
    }

    /// Creates records from `objects`, all or nothing (at most 1,000).
    pub async fn insert_many<T: DeserializeOwned>(
        &self,
        collection: &str,
        objects: &[impl Serialize],
    ) -> Result<Vec<Record<T>>> {
        let items = objects.iter().map(to_object).collect::<Result<Vec<_>>>()?;
        self.sdk
            .call_as(Call::InsertMany(
                collection.into(),
                Value::Array(items).into(),
            ))
            .await
    }

    /// Applies an update spec (`{"$set": {...}, "$inc": {...}}`) to every record
    /// matching `filter` that the caller may change (all with the admin key), all
    /// or nothing. Returns how many changed.
    pub async fn update_many(
        &self,
        collection: &str,
        filter: Option<Filter>,
        spec: &Value,
    ) -> Result<u64> {
        let call = Call::UpdateMany(collection.into(), filter_pairs(filter), spec.into());
        self.count_of(call).await
    }

    /// Deletes every record matching `filter` that the caller may delete, all or
    /// nothing. Returns how many were deleted.
    pub async fn delete_many(&self, collection: &str, filter: Option<Filter>) -> Result<u64> {
        let call = Call::DeleteMany(collection.into(), filter_pairs(filter));
        self.count_of(call).await
    }

    /// The `n` of a bulk write's `{"n": ...}` answer.
    async fn count_of(&self, call: Call) -> Result<u64> {
        let n: Value = self.sdk.call_as(call).await?;
        n["n"]
            .as_u64()
            .ok_or_else(|| Error::Decode(format!("expected {{\"n\": <count>}}, got {n}")))
    }

    /// Replaces every record of the collection (the admin key, and `save`
    /// switched on for the collection).
    pub async fn save_collection<T: DeserializeOwned>(
        &self,
        collection: &str,
        objects: &[impl Serialize],
    ) -> Result<Vec<Record<T>>> {
        let items = objects.iter().map(to_object).collect::<Result<Vec<_>>>()?;
        self.sdk
            .call_as(Call::SaveCollection(
                collection.into(),
                Value::Array(items).into(),
            ))
            .await
    }

    /// A collection's configuration (the admin key).
    pub async fn collection_config(&self, collection: &str) -> Result<CollectionConfig> {
        self.sdk
            .call_as(Call::GetCollectionConfig(collection.into()))
            .await
    }

    /// Sets a collection's configuration: schema, switches, id generator, upserts,
    /// indexes (the admin key).
    pub async fn set_collection_config(
        &self,
        collection: &str,
        config: &CollectionConfig,
    ) -> Result<CollectionConfig> {
        self.sdk
            .call_as(Call::SetCollectionConfig(
                collection.into(),
                to_object(config)?.into(),
            ))
            .await
    }

    /// One record.
    pub async fn get_resource<T: DeserializeOwned>(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Record<T>> {
        self.sdk
            .call_as(Call::GetResource(collection.into(), id.into()))
            .await
    }

    /// Creates a record owned by the signed-in user.
    pub async fn create_resource<T: DeserializeOwned>(
        &self,
        collection: &str,
        data: &impl Serialize,
    ) -> Result<Record<T>> {
        self.sdk
            .call_as(Call::CreateResource(
                collection.into(),
                to_object(data)?.into(),
            ))
            .await
    }

    /// Merges `data` into a record; a `null` value removes that field.
    pub async fn update_resource<T: DeserializeOwned>(
        &self,
        collection: &str,
        id: &str,
        data: &impl Serialize,
    ) -> Result<Record<T>> {
        self.sdk
            .call_as(Call::UpdateResource(
                collection.into(),
                id.into(),
                to_object(data)?.into(),
            ))
            .await
    }

    /// Replaces a record's fields with `data`.
    pub async fn overwrite_resource<T: DeserializeOwned>(
        &self,
        collection: &str,
        id: &str,
        data: &impl Serialize,
    ) -> Result<Record<T>> {
        self.sdk
            .call_as(Call::OverwriteResource(
                collection.into(),
                id.into(),
                to_object(data)?.into(),
            ))
            .await
    }

    /// Deletes a record and returns it as it was.
    pub async fn delete_resource<T: DeserializeOwned>(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Record<T>> {
        self.sdk
            .call_as(Call::DeleteResource(collection.into(), id.into()))
            .await
    }
}

/// The query-string form of a bulk write's filter.
fn filter_pairs(filter: Option<Filter>) -> Vec<(String, String)> {
    FindQuery {
        filter,
        ..FindQuery::default()
    }
    .to_pairs()
}

fn to_object(data: &impl Serialize) -> Result<Value> {
    match serde_json::to_value(data) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Error::InvalidArgument(
            "data must serialize to a JSON object".into(),
        )),
        Err(e) => Err(Error::InvalidArgument(e.to_string())),
    }
}
