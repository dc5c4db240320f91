//! `websocket.actions`: one method per Backpack action, each a frame built
//! as sdk-core's `ClientMessage` reads it, sent through the link.

use super::{Rcs, object, send};
use crate::{Error, json_arg, to_js_error};
use sdk_core::json::ObjectWriter;
use sdk_core::realtime::Outgoing;
use wasm_bindgen::prelude::*;

/// Sends the frame `w` as it is.
fn frame(st: &Rcs, w: ObjectWriter) -> Result<(), JsValue> {
    send(st, Outgoing::Frame(w.finish()))
}

/// A frame naming a channel of the users-information collection.
fn channel(action: &str, users: &str, channel_type: &str) -> ObjectWriter {
    ObjectWriter::action(action)
        .str("usersInformationCollection", users)
        .str("channelType", channel_type)
}

/// `websocket.actions`: one method per Backpack action.
#[wasm_bindgen]
pub struct Actions {
    pub(super) state: Rcs,
}

#[wasm_bindgen]
impl Actions {
    /// `sendMessage(message)`: to a channel's subscribers when it names
    /// `channelType` and `channelId`, else to everyone; the server adds `userId`.
    #[wasm_bindgen(js_name = sendMessage)]
    pub fn send_message(&self, message: JsValue) -> Result<(), JsValue> {
        send(&self.state, Outgoing::Frame(object(&message)?))
    }

    /// `findResource(collection, query)`: `{action: "find", collection, response}`.
    #[wasm_bindgen(js_name = findResource)]
    pub fn find_resource(&self, collection: String, query: JsValue) -> Result<(), JsValue> {
        let w = ObjectWriter::action("find").str("collection", &collection);
        if query.is_undefined() || query.is_null() {
            return frame(&self.state, w);
        }
        frame(
            &self.state,
            w.raw("query", &json_arg(&query, "the query", false)?),
        )
    }

    /// `getCollection(collection)`: `{action: "getAll", collection, response}`.
    #[wasm_bindgen(js_name = getCollection)]
    pub fn get_collection(&self, collection: String) -> Result<(), JsValue> {
        frame(
            &self.state,
            ObjectWriter::action("getAll").str("collection", &collection),
        )
    }

    /// `getResource(collection, id)`: `{action: "getOne", collection, response}`.
    #[wasm_bindgen(js_name = getResource)]
    pub fn get_resource(&self, collection: String, id: String) -> Result<(), JsValue> {
        let w = ObjectWriter::action("getOne").str("collection", &collection);
        frame(&self.state, w.str("id", &id))
    }

    /// `createResource(collection, data)`.
    #[wasm_bindgen(js_name = createResource)]
    pub fn create_resource(&self, collection: String, data: JsValue) -> Result<(), JsValue> {
        let data = json_arg(&data, "data", false)?;
        let w = ObjectWriter::action("create").str("collection", &collection);
        frame(&self.state, w.raw("data", &data))
    }

    /// `overwriteResource(collection, id, data)`: `{action: "update", ...}`.
    #[wasm_bindgen(js_name = overwriteResource)]
    pub fn overwrite_resource(
        &self,
        collection: String,
        id: String,
        data: JsValue,
    ) -> Result<(), JsValue> {
        let data = json_arg(&data, "data", false)?;
        let w = ObjectWriter::action("update").str("collection", &collection);
        frame(&self.state, w.str("id", &id).raw("data", &data))
    }

    /// `updateResource(collection, id, data)`: `{action: "patch", ...}`.
    #[wasm_bindgen(js_name = updateResource)]
    pub fn update_resource(
        &self,
        collection: String,
        id: String,
        data: JsValue,
    ) -> Result<(), JsValue> {
        let data = json_arg(&data, "data", false)?;
        let w = ObjectWriter::action("patch").str("collection", &collection);
        frame(&self.state, w.str("id", &id).raw("data", &data))
    }

    /// `deleteResource(collection, id)`.
    #[wasm_bindgen(js_name = deleteResource)]
    pub fn delete_resource(&self, collection: String, id: String) -> Result<(), JsValue> {
        let w = ObjectWriter::action("delete").str("collection", &collection);
        frame(&self.state, w.str("id", &id))
    }

    /// `joinUsersChannels(usersInformationCollection)`.
    #[wasm_bindgen(js_name = joinUsersChannels)]
    pub fn join_users_channels(&self, users_information_collection: String) -> Result<(), JsValue> {
        let w = ObjectWriter::action("joinUsersChannels");
        frame(
            &self.state,
            w.str("usersInformationCollection", &users_information_collection),
        )
    }

    /// `createChannel(usersInformationCollection, channelType, name)`.
    #[wasm_bindgen(js_name = createChannel)]
    pub fn create_channel(
        &self,
        users_information_collection: String,
        channel_type: String,
        name: String,
    ) -> Result<(), JsValue> {
        let w = channel(
            "createChannel",
            &users_information_collection,
            &channel_type,
        );
        frame(&self.state, w.str("name", &name))
    }

    /// `joinChannel(usersInformationCollection, channelType, channelId)`.
    #[wasm_bindgen(js_name = joinChannel)]
    pub fn join_channel(
        &self,
        users_information_collection: String,
        channel_type: String,
        channel_id: String,
    ) -> Result<(), JsValue> {
        let w = channel("joinChannel", &users_information_collection, &channel_type);
        frame(&self.state, w.str("channelId", &channel_id))
    }

    /// `leaveChannel(usersInformationCollection, channelType, channelId)`.
    #[wasm_bindgen(js_name = leaveChannel)]
    pub fn leave_channel(
        &self,
        users_information_collection: String,
        channel_type: String,
        channel_id: String,
    ) -> Result<(), JsValue> {
        let w = channel("leaveChannel", &users_information_collection, &channel_type);
        frame(&self.state, w.str("channelId", &channel_id))
    }

    /// `changeChannel(usersInformationCollection, channelType, channelId)`.
    #[wasm_bindgen(js_name = changeChannel)]
    pub fn change_channel(
        &self,
        users_information_collection: String,
        channel_type: String,
        channel_id: String,
    ) -> Result<(), JsValue> {
        let w = channel(
            "changeChannel",
            &users_information_collection,
            &channel_type,
        );
        frame(&self.state, w.str("channelId", &channel_id))
    }

    /// `deleteChannel(usersInformationCollection, channelMessagesCollection, channelType, channelId)`.
    #[wasm_bindgen(js_name = deleteChannel)]
    pub fn delete_channel(
        &self,
        users_information_collection: String,
        channel_messages_collection: String,
        channel_type: String,
        channel_id: String,
    ) -> Result<(), JsValue> {
        let w = channel(
            "deleteChannel",
            &users_information_collection,
            &channel_type,
        )
        .str("channelMessagesCollection", &channel_messages_collection);
        frame(&self.state, w.str("channelId", &channel_id))
    }

    /// `open(message)`: to everyone, with the sender's `userId`.
    pub fn open(&self, message: JsValue) -> Result<(), JsValue> {
        send(&self.state, Outgoing::Frame(with_action("open", &message)?))
    }

    /// `close(message)`: to everyone, with the sender's `userId`.
    pub fn close(&self, message: JsValue) -> Result<(), JsValue> {
        send(
            &self.state,
            Outgoing::Frame(with_action("close", &message)?),
        )
    }

    /// `subscribeNotifications([collections])`: from now on record writes arrive as
    /// SmartNgRX notifications `{action, table, ids}`.
    #[wasm_bindgen(js_name = subscribeNotifications)]
    pub fn subscribe_notifications(&self, collections: JsValue) -> Result<(), JsValue> {
        let collections = if collections.is_undefined() || collections.is_null() {
            None
        } else {
            let bad = || {
                to_js_error(Error::InvalidArgument(
                    "collections must be an array of names".into(),
                ))
            };
            if !js_sys::Array::is_array(&collections) {
                return Err(bad());
            }
            let names: Option<Vec<String>> = js_sys::Array::from(&collections)
                .iter()
                .map(|v| v.as_string())
                .collect();
            Some(names.ok_or_else(bad)?)
        };
        send(&self.state, Outgoing::Notifications(collections))
    }
}

/// `message` with `action` set to `action`, as JSON text.
fn with_action(action: &str, message: &JsValue) -> Result<String, JsValue> {
    object(message)?;
    let copy = js_sys::Object::assign(&js_sys::Object::new(), message.unchecked_ref());
    let _ = js_sys::Reflect::set(&copy, &"action".into(), &action.into());
    json_arg(&copy, "the message", false)
}
