//! Generated gRPC code for EventFlow's v1 contracts (`proto/`), built into
//! `OUT_DIR` on every build so it cannot drift from the `.proto` files.

#![allow(clippy::all, missing_docs)]

pub mod ingest {
    pub mod v1 {
        tonic::include_proto!("eventflow.ingest.v1");
    }
}

pub mod query {
    pub mod v1 {
        tonic::include_proto!("eventflow.query.v1");
    }
}

pub mod dispatch {
    pub mod v1 {
        tonic::include_proto!("eventflow.dispatch.v1");
    }
}

/// The encoded descriptors of every service, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("eventflow_descriptor");
