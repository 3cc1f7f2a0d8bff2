//! Users, sessions and grants over HTTP (Iorio's routes):
//!
//! | route | what | needs |
//! |---|---|---|
//! | `POST /sessions` `{"username","password"}` | 201 `{"ok":true,"token":…,"username":…}` | the password |
//! | `GET /sessions` | `{"username":…}`: who the token says you are | — |
//! | `POST /users/` `{"username","password"}` | 201, `Location: /users/<name>` | `adminusers` |
//! | `PUT /users/` `{"username","password"}`, `PUT /users/{name}` `{"password"}` | a new password | yourself, or `adminusers` |
//! | `GET /users/` | `[{"username":…}]` | `adminusers` |
//! | `DELETE /users/{name}` | removes the user and their grants | `adminusers` |
//! | `GET /access/{bucket}/`, `GET /access/{bucket}/{stream}` | `{"users":[{"name","grants"}],"groups":[…]}` | `grant` there |
//! | `POST` the same `{"action":"grant"\|"revoke","role"\|"username"\|"group":…,"permission":…}` | `{"ok":true}` | `grant` there |

use super::auth::{Place, allowed, caller};
use super::{ApiError, json_body};
use crate::access::grants::EVERYONE_GROUP;
use crate::access::{Access, AccessError, Grant, Permission, Resource, Subject};
use crate::node::Node;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;

type QueryMap = Query<HashMap<String, String>>;

/// The routes, over a node's access control.
pub fn routes(node: &Node) -> Router {
    let access = node.access().clone();
    Router::new()
        .route("/sessions", get(whoami).post(login))
        .route(
            "/users",
            get(list_users).post(add_user).put(change_password),
        )
        .route(
            "/users/",
            get(list_users).post(add_user).put(change_password),
        )
        .route("/users/{name}", put(change_password_of).delete(remove_user))
        .route("/access/{bucket}", get(show_grants).post(change_grant))
        .route("/access/{bucket}/", get(show_grants).post(change_grant))
        .route(
            "/access/{bucket}/{stream}",
            get(show_grants).post(change_grant),
        )
        .with_state(access)
}

/// A string field of a JSON body.
fn field<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(Value::as_str)
}

async fn login(
    State(access): State<Access>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, &body)?;
    let (Some(username), Some(password)) = (field(&body, "username"), field(&body, "password"))
    else {
        return Err(AccessError::Unauthorized.into());
    };
    let session = access.login(username, password).await?;
    let answer = json!({"ok": true, "token": session.token, "username": session.username});
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, "/sessions")],
        Json(answer),
    )
        .into_response())
}

async fn whoami(
    State(access): State<Access>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = caller(&access, &headers, &query)?;
    Ok(Json(
        json!({"username": caller.name, "groups": caller.groups}),
    ))
}

/// The user name and password of a users' route body, with Iorio's errors when missing.
fn credentials(body: &Value) -> Result<(&str, &str), AccessError> {
    match (field(body, "username"), field(body, "password")) {
        (Some(user), Some(pass)) => Ok((user, pass)),
        (None, None) => Err(AccessError::NoUserAndPass),
        (None, _) => Err(AccessError::NoUser),
        (_, None) => Err(AccessError::NoPass),
    }
}

async fn add_user(
    State(access): State<Access>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    allowed(
        &access,
        &headers,
        &query,
        &Resource::Any,
        Permission::AdminUsers,
    )?;
    let body = json_body(&headers, &body)?;
    let (username, password) = credentials(&body)?;
    let groups = match body.get("groups") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(groups)) => groups
            .iter()
            .map(|g| g.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid_field("groups", "a list of group names"))?,
        Some(_) => return Err(invalid_field("groups", "a list of group names")),
    };
    access.add_user(username, password, groups).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/users/{username}"))],
        Json(json!({"ok": true})),
    )
        .into_response())
}

async fn change_password(
    State(access): State<Access>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_body(&headers, &body)?;
    let (username, password) = credentials(&body)?;
    set_password(&access, &headers, &query, username, password).await
}

async fn change_password_of(
    State(access): State<Access>,
    Path(name): Path<String>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_body(&headers, &body)?;
    let password = field(&body, "password").ok_or(AccessError::NoPass)?;
    set_password(&access, &headers, &query, &name, password).await
}

/// A user may change their own password; changing another's needs `adminusers`.
async fn set_password(
    access: &Access,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    username: &str,
    password: &str,
) -> Result<Json<Value>, ApiError> {
    let caller = caller(access, headers, query)?;
    if caller.anonymous || caller.name != username {
        access.check(&caller, &Resource::Any, Permission::AdminUsers)?;
    }
    access.set_password(username, password).await?;
    Ok(Json(json!({"ok": true})))
}

async fn list_users(
    State(access): State<Access>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    allowed(
        &access,
        &headers,
        &query,
        &Resource::Any,
        Permission::AdminUsers,
    )?;
    let users: Vec<Value> = access
        .users()
        .into_iter()
        .map(|(name, record)| json!({"username": name, "groups": record.groups}))
        .collect();
    Ok(Json(Value::Array(users)))
}

async fn remove_user(
    State(access): State<Access>,
    Path(name): Path<String>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    allowed(
        &access,
        &headers,
        &query,
        &Resource::Any,
        Permission::AdminUsers,
    )?;
    access.remove_user(&name).await?;
    Ok(Json(json!({"ok": true})))
}

async fn show_grants(
    State(access): State<Access>,
    Path(place): Path<Place>,
    Query(query): QueryMap,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let resource = place.resource();
    allowed(&access, &headers, &query, &resource, Permission::Grant)?;
    let (mut users, mut groups) = (Vec::new(), Vec::new());
    for (subject, permissions) in access.grants_on(&resource) {
        let grants: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
        match subject {
            Subject::User(name) => users.push(json!({"name": name, "grants": grants})),
            Subject::Group(name) => groups.push(json!({"name": name, "grants": grants})),
        }
    }
    Ok(Json(json!({"users": users, "groups": groups})))
}

/// `{"action":"grant"|"revoke", "role"|"username"|"group": …, "permission": …}`.
async fn change_grant(
    State(access): State<Access>,
    Path(place): Path<Place>,
    Query(query): QueryMap,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let resource = place.resource();
    allowed(&access, &headers, &query, &resource, Permission::Grant)?;
    let body = json_body(&headers, &body)?;
    let allow = match field(&body, "action") {
        Some("grant") => true,
        Some("revoke") => false,
        Some(other) => {
            return Err(invalid_field(
                "action",
                &format!("'grant' or 'revoke', not '{other}'"),
            ));
        }
        None => return Err(invalid_field("action", "'grant' or 'revoke'")),
    };
    let subject = subject_of(&access, &body)?;
    let permission: Permission = field(&body, "permission")
        .ok_or_else(|| invalid_field("permission", "a permission name"))?
        .parse()
        .map_err(|e: String| invalid_field("permission", &e))?;
    if permission == Permission::AdminUsers {
        return Err(invalid_field(
            "permission",
            "adminusers is granted on the whole cluster (console: security grant adminusers on any to …), not on a bucket",
        ));
    }
    if permission == Permission::List && matches!(resource, Resource::Stream(..)) {
        return Err(invalid_field(
            "permission",
            "list is granted on a bucket, not on a stream",
        ));
    }
    let grant = Grant {
        resource,
        subject,
        permission,
    };
    access.set_grant(&grant, allow).await?;
    Ok(Json(json!({"ok": true})))
}

/// Whom a grant is to: `"role"` (a user if one has that name, else a group; `user/NAME`,
/// `group/NAME` and `*` for everyone), `"username"` or `"group"`.
fn subject_of(access: &Access, body: &Value) -> Result<Subject, ApiError> {
    if let Some(name) = field(body, "username") {
        return Ok(Subject::User(name.to_string()));
    }
    if let Some(name) = field(body, "group") {
        return Ok(Subject::group(name));
    }
    let role = field(body, "role").ok_or_else(|| invalid_field("role", "a user or group name"))?;
    Ok(if let Some(name) = role.strip_prefix("user/") {
        Subject::User(name.to_string())
    } else if let Some(name) = role.strip_prefix("group/") {
        Subject::group(name)
    } else if role == "*" || role == EVERYONE_GROUP {
        Subject::group(role)
    } else if access.user(role).is_some() {
        Subject::User(role.to_string())
    } else {
        Subject::group(role)
    })
}

fn invalid_field(field: &str, expected: &str) -> ApiError {
    ApiError::bad_request("invalid-field", format!("field '{field}': {expected}"))
}
