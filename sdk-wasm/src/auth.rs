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

    /// The current session, `{ token, userId }` (`userId` `null` until known),
    /// or `null` when signed out: for keeping it across page loads.
    #[wasm_bindgen(getter)]
    pub fn session(&self) -> JsValue {
        let core = self.core.borrow();
        let s = core.session();
        let Some(token) = s.token() else {
            return JsValue::NULL;
        };
        let o = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&o, &"token".into(), &token.into());
        let user: JsValue = s.user_id().map_or(JsValue::NULL, Into::into);
        let _ = js_sys::Reflect::set(&o, &"userId".into(), &user);
        o.into()
    }

    /// Takes up a session kept from an earlier page load (see `session`).
    #[wasm_bindgen(js_name = restoreSession)]
    pub fn restore_session(&self, token: String, user_id: Option<String>) {
        self.core.borrow_mut().restore_session(token, user_id);
    }
}
