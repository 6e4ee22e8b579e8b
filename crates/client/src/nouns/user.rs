//! Verbs of users and groups beyond the generic ones: creation, passwords, authentication
//! drivers, group membership, group admins, login tokens and EC2 access keys.

use nubo_xmlrpc::Value;

use super::{Group, User};
use crate::ClientError;
use crate::resource::Resource;

impl Resource<'_, User> {
    /// `user.allocate(name, password, driver, gids)`: an empty driver means `core`; with no
    /// gids the user joins the server's default group. Returns the new user's id.
    pub fn allocate(
        &self,
        name: &str,
        password: &str,
        driver: &str,
        gids: &[i32],
    ) -> Result<i32, ClientError> {
        let mut params = vec![
            Value::from(name),
            Value::from(password),
            Value::from(driver),
        ];
        if !gids.is_empty() {
            params.push(Value::Array(gids.iter().copied().map(Value::Int).collect()));
        }
        self.call_id("allocate", params)
    }

    /// `user.passwd(id, password)`.
    pub fn passwd(&self, id: i32, password: &str) -> Result<(), ClientError> {
        self.act("passwd", id, vec![Value::from(password)])
    }

    /// `user.chauth(id, driver, password)`: an empty password keeps the current one.
    pub fn chauth(&self, id: i32, driver: &str, password: &str) -> Result<(), ClientError> {
        self.act(
            "chauth",
            id,
            vec![Value::from(driver), Value::from(password)],
        )
    }

    /// `user.chgrp(id, gid)`: changes the primary group.
    pub fn chgrp(&self, id: i32, gid: i32) -> Result<(), ClientError> {
        self.act("chgrp", id, vec![Value::Int(gid)])
    }

    /// `user.addgroup(id, gid)`: adds a secondary group.
    pub fn addgroup(&self, id: i32, gid: i32) -> Result<(), ClientError> {
        self.act("addgroup", id, vec![Value::Int(gid)])
    }

    /// `user.delgroup(id, gid)`: removes a secondary group.
    pub fn delgroup(&self, id: i32, gid: i32) -> Result<(), ClientError> {
        self.act("delgroup", id, vec![Value::Int(gid)])
    }

    /// `user.login(name, token, valid, egid)`: creates (empty `token`: generates) a login
    /// token valid for `valid` seconds (-1: the longest allowed, 0: revoke), restricted to
    /// group `egid` (-1: none). Returns the token.
    pub fn login(
        &self,
        name: &str,
        token: &str,
        valid: i32,
        egid: i32,
    ) -> Result<String, ClientError> {
        let method = Self::method("login");
        let params = vec![
            Value::from(name),
            Value::from(token),
            Value::Int(valid),
            Value::Int(egid),
        ];
        self.client().call_string(&method, params)
    }

    /// `user.ec2keycreate(id)` (Nubo; -1: the caller): a new EC2 access key, as
    /// `<EC2_KEY>` XML with `ACCESS_KEY_ID` and `SECRET_ACCESS_KEY`.
    pub fn ec2_key_create(&self, id: i32) -> Result<String, ClientError> {
        self.client()
            .call_string(&Self::method("ec2keycreate"), vec![Value::Int(id)])
    }

    /// `user.ec2keyinfo(id)` (Nubo; -1: the caller): the user's EC2 access keys as
    /// `<EC2_KEYS>` XML, without secrets.
    pub fn ec2_key_info(&self, id: i32) -> Result<String, ClientError> {
        self.client()
            .call_string(&Self::method("ec2keyinfo"), vec![Value::Int(id)])
    }

    /// `user.ec2keydelete(id, access_key_id)` (Nubo; -1: the caller).
    pub fn ec2_key_delete(&self, id: i32, access_key_id: &str) -> Result<(), ClientError> {
        self.act("ec2keydelete", id, vec![Value::from(access_key_id)])
    }
}

impl Resource<'_, Group> {
    /// `group.allocate(name)`. Returns the new group's id.
    pub fn allocate(&self, name: &str) -> Result<i32, ClientError> {
        self.call_id("allocate", vec![Value::from(name)])
    }

    /// `group.addadmin(gid, uid)`.
    pub fn addadmin(&self, gid: i32, uid: i32) -> Result<(), ClientError> {
        self.act("addadmin", gid, vec![Value::Int(uid)])
    }

    /// `group.deladmin(gid, uid)`.
    pub fn deladmin(&self, gid: i32, uid: i32) -> Result<(), ClientError> {
        self.act("deladmin", gid, vec![Value::Int(uid)])
    }
}
