//! `sdk.auth`: sign-up, sign-in and sign-out.

use super::*;

/// `sdk.auth`.
#[wasm_bindgen]
pub struct Auth {
    pub(crate) core: Shared,
}

#[wasm_bindgen]
impl Auth {
    /// Registers a user and signs them in: `{ id }`.
    pub async fn register(&self, email: String, password: String) -> Result<JsValue, JsValue> {
        run(&self.core, Call::Register(Credentials { email, password })).await
    }

    /// Signs a user in: `{ id }`.
    pub async fn login(&self, email: String, password: String) -> Result<JsValue, JsValue> {
        run(&self.core, Call::Login(Credentials { email, password })).await
    }

    /// The signed-in user: `{ id, email, createdAt }`.
    pub async fn me(&self) -> Result<JsValue, JsValue> {
        run(&self.core, Call::Me).await
    }

    /// Changes the password; every other session ends: `{ message }`.
    #[wasm_bindgen(js_name = changePassword)]
    pub async fn change_password(
        &self,
        current_password: String,
        new_password: String,
    ) -> Result<JsValue, JsValue> {
        let call = Call::ChangePassword {
            current: current_password,
            new: new_password,
        };
        run(&self.core, call).await
    }

    /// Deletes the account (the password confirms it) and signs out: `{ message }`.
    #[wasm_bindgen(js_name = deleteAccount)]
    pub async fn delete_account(&self, password: String) -> Result<JsValue, JsValue> {
        run(&self.core, Call::DeleteAccount(password)).await
    }

    /// Signs the current user out: `{ message: "OK" }`.
    pub async fn logout(&self) -> Result<JsValue, JsValue> {
        run(&self.core, Call::Logout).await
    }
}
