//! `websocket.actions`: one method per Backpack action, each a typed
//! [`ClientMessage`] sent through the link.

use super::{Rcs, object, send};
use crate::{Error, to_js_error, to_json};
use sdk_core::ws::ClientMessage;
use wasm_bindgen::prelude::*;

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
        send(&self.state, &ClientMessage::Message(object(&message)?))
    }

    /// `findResource(collection, query)`: `{action: "find", collection, response}`.
    #[wasm_bindgen(js_name = findResource)]
    pub fn find_resource(&self, collection: String, query: JsValue) -> Result<(), JsValue> {
        let query = if query.is_undefined() || query.is_null() {
            serde_json::Value::Null
        } else {
            to_json(&query)?
        };
        send(&self.state, &ClientMessage::Find { collection, query })
    }

    /// `getCollection(collection)`: `{action: "getAll", collection, response}`.
    #[wasm_bindgen(js_name = getCollection)]
    pub fn get_collection(&self, collection: String) -> Result<(), JsValue> {
        send(&self.state, &ClientMessage::GetAll { collection })
    }

    /// `getResource(collection, id)`: `{action: "getOne", collection, response}`.
    #[wasm_bindgen(js_name = getResource)]
    pub fn get_resource(&self, collection: String, id: String) -> Result<(), JsValue> {
        send(&self.state, &ClientMessage::GetOne { collection, id })
    }

    /// `createResource(collection, data)`.
    #[wasm_bindgen(js_name = createResource)]
    pub fn create_resource(&self, collection: String, data: JsValue) -> Result<(), JsValue> {
        let data = to_json(&data)?;
        send(&self.state, &ClientMessage::Create { collection, data })
    }

    /// `overwriteResource(collection, id, data)`: `{action: "update", ...}`.
    #[wasm_bindgen(js_name = overwriteResource)]
    pub fn overwrite_resource(
        &self,
        collection: String,
        id: String,
        data: JsValue,
    ) -> Result<(), JsValue> {
        let data = to_json(&data)?;
        send(
            &self.state,
            &ClientMessage::Update {
                collection,
                id,
                data,
            },
        )
    }

    /// `updateResource(collection, id, data)`: `{action: "patch", ...}`.
    #[wasm_bindgen(js_name = updateResource)]
    pub fn update_resource(
        &self,
        collection: String,
        id: String,
        data: JsValue,
    ) -> Result<(), JsValue> {
        let data = to_json(&data)?;
        send(
            &self.state,
            &ClientMessage::Patch {
                collection,
                id,
                data,
            },
        )
    }

    /// `deleteResource(collection, id)`.
    #[wasm_bindgen(js_name = deleteResource)]
    pub fn delete_resource(&self, collection: String, id: String) -> Result<(), JsValue> {
        send(&self.state, &ClientMessage::Delete { collection, id })
    }

    /// `joinUsersChannels(usersInformationCollection)`.
    #[wasm_bindgen(js_name = joinUsersChannels)]
    pub fn join_users_channels(&self, users_information_collection: String) -> Result<(), JsValue> {
        send(
            &self.state,
            &ClientMessage::JoinUsersChannels {
                users_information_collection,
            },
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
        send(
            &self.state,
            &ClientMessage::CreateChannel {
                users_information_collection,
                channel_type,
                name,
            },
        )
    }

    /// `joinChannel(usersInformationCollection, channelType, channelId)`.
    #[wasm_bindgen(js_name = joinChannel)]
    pub fn join_channel(
        &self,
        users_information_collection: String,
        channel_type: String,
        channel_id: String,
    ) -> Result<(), JsValue> {
        send(
            &self.state,
            &ClientMessage::JoinChannel {
                users_information_collection,
                channel_type,
                channel_id,
            },
        )
    }

    /// `leaveChannel(usersInformationCollection, channelType, channelId)`.
    #[wasm_bindgen(js_name = leaveChannel)]
    pub fn leave_channel(
        &self,
        users_information_collection: String,
        channel_type: String,
        channel_id: String,
    ) -> Result<(), JsValue> {
        send(
            &self.state,
            &ClientMessage::LeaveChannel {
                users_information_collection,
                channel_type,
                channel_id,
            },
        )
    }

    /// `changeChannel(usersInformationCollection, channelType, channelId)`.
    #[wasm_bindgen(js_name = changeChannel)]
    pub fn change_channel(
        &self,
        users_information_collection: String,
        channel_type: String,
        channel_id: String,
    ) -> Result<(), JsValue> {
        send(
            &self.state,
            &ClientMessage::ChangeChannel {
                users_information_collection,
                channel_type,
                channel_id,
            },
        )
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
        send(
            &self.state,
            &ClientMessage::DeleteChannel {
                users_information_collection,
                channel_messages_collection,
                channel_type,
                channel_id,
            },
        )
    }

    /// `open(message)`: to everyone, with the sender's `userId`.
    pub fn open(&self, message: JsValue) -> Result<(), JsValue> {
        send(&self.state, &ClientMessage::Open(object(&message)?))
    }

    /// `close(message)`: to everyone, with the sender's `userId`.
    pub fn close(&self, message: JsValue) -> Result<(), JsValue> {
        send(&self.state, &ClientMessage::Close(object(&message)?))
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
        send(
            &self.state,
            &ClientMessage::SubscribeNotifications { collections },
        )
    }
}
