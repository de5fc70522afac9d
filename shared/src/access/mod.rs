//! Who is calling and what the request may do: identifying the caller (`identify`), the
//! protocol each declared access runs (`protocol`), and the browser's cookies and the
//! signed-in answer (`cookies`). A credential exists only in here: a route receives the
//! authenticated request its declaration names, and runs its protected statements through
//! it.

mod cookies;
mod identify;
mod protocol;

pub use cookies::{
    DEVICE_COOKIE, SESSION_COOKIE, clear_session_cookie, presented_devices, signed_in,
};
pub use identify::Caller;
pub use protocol::{
    Admission, AnyCredential, Authenticated, Confirmed, MaybeSignedIn, OptionalCaller, OwnAccount,
    PathOwner, Protocol, Public, refuse_throttled, respond,
};
