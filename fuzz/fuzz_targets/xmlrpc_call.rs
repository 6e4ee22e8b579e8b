//! `nubo_xmlrpc::parse_call` and `parse_response` on any body: no panic, and what parses
//! reads back the same once written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nubo_xmlrpc::{MethodResponse, parse_call, parse_response, write_call, write_response};

fuzz_target!(|body: &[u8]| {
    if let Ok(call) = parse_call(body) {
        let written = write_call(&call);
        let back = parse_call(written.as_bytes()).expect("a written call parses");
        assert_eq!(back.method, call.method);
        assert_eq!(back.params.len(), call.params.len());
    }
    if let Ok(resp) = parse_response(body) {
        let written = write_response(&resp);
        let back = parse_response(written.as_bytes()).expect("a written response parses");
        if let (MethodResponse::Fault { .. }, MethodResponse::Fault { .. }) = (&resp, &back) {
            assert_eq!(resp, back);
        }
    }
});
