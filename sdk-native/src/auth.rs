//! `sdk.auth`: sign-up, sign-in and sign-out.

use super::*;

/// `sdk.auth`: sign-up, sign-in and sign-out.
pub struct Auth<'a> {
    pub(crate) sdk: &'a Sdk,
}

impl Auth<'_> {
    /// Registers a user and signs them in. Returns the new user's id.
    pub async fn register(&self, email: &str, password: &str) -> Result<UserId> {
        let c = Credentials {
            email: email.into(),
            password: password.into(),
        };
        self.sdk.call_as(Call::Register(c)).await
    }

    /// Signs a user in. Returns the user's id.
    pub async fn login(&self, email: &str, password: &str) -> Result<UserId> {
        let c = Credentials {
            email: email.into(),
            password: password.into(),
        };
        self.sdk.call_as(Call::Login(c)).await
    }

    /// The signed-in user: id, email, registration time.
    pub async fn me(&self) -> Result<Me> {
        self.sdk.call_as(Call::Me).await
    }

    /// Changes the password; every other session of the user ends.
    pub async fn change_password(&self, current: &str, new: &str) -> Result<MessageResponse> {
        self.sdk
            .call_as(Call::ChangePassword {
                current: current.into(),
                new: new.into(),
            })
            .await
    }

    /// Deletes the account (the password confirms it) and signs out. Records and
    /// files the user made stay.
    pub async fn delete_account(&self, password: &str) -> Result<MessageResponse> {
        self.sdk.call_as(Call::DeleteAccount(password.into())).await
    }

    /// Ends the session on the server and forgets it here.
    pub async fn logout(&self) -> Result<MessageResponse> {
        self.sdk.call_as(Call::Logout).await
    }
}
