//! One method per Backpack action, each a typed [`ClientMessage`] sent
//! through [`Realtime::send`].

use super::{Realtime, object};
use sdk_core::Error;
use sdk_core::ws::ClientMessage;
use serde_json::Value;

impl Realtime {
    /// Sends a JSON message with an `action` of the app's own (`sendMessage`).
    /// With `channelType` and `channelId` it reaches that channel's subscribers.
    pub fn send_message(&self, message: Value) -> Result<(), Error> {
        self.send(ClientMessage::Message(object(message)))
    }

    /// `findResource`: records matching a Mongo-style query, answered to this connection.
    pub fn find_resource(&self, collection: &str, query: Value) -> Result<(), Error> {
        self.send(ClientMessage::Find {
            collection: collection.into(),
            query,
        })
    }

    /// `getCollection`: the collection's records, answered to this connection.
    pub fn get_collection(&self, collection: &str) -> Result<(), Error> {
        self.send(ClientMessage::GetAll {
            collection: collection.into(),
        })
    }

    /// `getResource`: one record, answered to this connection.
    pub fn get_resource(&self, collection: &str, id: &str) -> Result<(), Error> {
        self.send(ClientMessage::GetOne {
            collection: collection.into(),
            id: id.into(),
        })
    }

    /// `createResource`: creates a record; answered here and broadcast.
    pub fn create_resource(&self, collection: &str, data: Value) -> Result<(), Error> {
        self.send(ClientMessage::Create {
            collection: collection.into(),
            data,
        })
    }

    /// `overwriteResource`: replaces a record; answered here and broadcast.
    pub fn overwrite_resource(&self, collection: &str, id: &str, data: Value) -> Result<(), Error> {
        self.send(ClientMessage::Update {
            collection: collection.into(),
            id: id.into(),
            data,
        })
    }

    /// `updateResource`: merges into a record; answered here and broadcast.
    pub fn update_resource(&self, collection: &str, id: &str, data: Value) -> Result<(), Error> {
        self.send(ClientMessage::Patch {
            collection: collection.into(),
            id: id.into(),
            data,
        })
    }

    /// `deleteResource`: deletes a record; answered here and broadcast.
    pub fn delete_resource(&self, collection: &str, id: &str) -> Result<(), Error> {
        self.send(ClientMessage::Delete {
            collection: collection.into(),
            id: id.into(),
        })
    }

    /// `joinUsersChannels`: subscribes to every channel in the user's information record.
    pub fn join_users_channels(&self, users_information_collection: &str) -> Result<(), Error> {
        self.send(ClientMessage::JoinUsersChannels {
            users_information_collection: users_information_collection.into(),
        })
    }

    /// `createChannel`: creates a channel document in `channel_type` and joins it.
    pub fn create_channel(
        &self,
        users_information_collection: &str,
        channel_type: &str,
        name: &str,
    ) -> Result<(), Error> {
        self.send(ClientMessage::CreateChannel {
            users_information_collection: users_information_collection.into(),
            channel_type: channel_type.into(),
            name: name.into(),
        })
    }

    /// `joinChannel`.
    pub fn join_channel(
        &self,
        users_information_collection: &str,
        channel_type: &str,
        channel_id: &str,
    ) -> Result<(), Error> {
        self.send(ClientMessage::JoinChannel {
            users_information_collection: users_information_collection.into(),
            channel_type: channel_type.into(),
            channel_id: channel_id.into(),
        })
    }

    /// `leaveChannel`.
    pub fn leave_channel(
        &self,
        users_information_collection: &str,
        channel_type: &str,
        channel_id: &str,
    ) -> Result<(), Error> {
        self.send(ClientMessage::LeaveChannel {
            users_information_collection: users_information_collection.into(),
            channel_type: channel_type.into(),
            channel_id: channel_id.into(),
        })
    }

    /// `changeChannel`.
    pub fn change_channel(
        &self,
        users_information_collection: &str,
        channel_type: &str,
        channel_id: &str,
    ) -> Result<(), Error> {
        self.send(ClientMessage::ChangeChannel {
            users_information_collection: users_information_collection.into(),
            channel_type: channel_type.into(),
            channel_id: channel_id.into(),
        })
    }

    /// `deleteChannel`: deletes the channel, its messages and every subscription.
    pub fn delete_channel(
        &self,
        users_information_collection: &str,
        channel_messages_collection: &str,
        channel_type: &str,
        channel_id: &str,
    ) -> Result<(), Error> {
        self.send(ClientMessage::DeleteChannel {
            users_information_collection: users_information_collection.into(),
            channel_messages_collection: channel_messages_collection.into(),
            channel_type: channel_type.into(),
            channel_id: channel_id.into(),
        })
    }

    /// `open`: broadcasts the message to everyone with this user's `userId`.
    pub fn send_open(&self, message: Value) -> Result<(), Error> {
        self.send(ClientMessage::Open(object(message)))
    }

    /// `close`: broadcasts the message to everyone with this user's `userId`.
    pub fn send_close(&self, message: Value) -> Result<(), Error> {
        self.send(ClientMessage::Close(object(message)))
    }

    /// From now on, record writes arrive as SmartNgRX notifications
    /// ([`ServerMessage::Notification`]), of `collections` only when given.
    pub fn subscribe_notifications(&self, collections: Option<Vec<String>>) -> Result<(), Error> {
        self.send(ClientMessage::SubscribeNotifications { collections })
    }
}
