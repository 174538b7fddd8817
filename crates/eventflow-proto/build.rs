//! Compiles the v1 contracts in `proto/` into `OUT_DIR`, with the vendored
//! protoc unless `PROTOC` names another one.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("PROTOC").is_none() {
        // SAFETY: build scripts are single-threaded.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?)
        };
    }
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("eventflow_descriptor.bin"))
        .compile_protos(
            &[
                "../../proto/eventflow/ingest/v1/ingest.proto",
                "../../proto/eventflow/query/v1/query.proto",
                "../../proto/eventflow/dispatch/v1/dispatch.proto",
            ],
            &["../../proto"],
        )?;
    println!("cargo:rerun-if-changed=../../proto");
    println!("cargo:rerun-if-env-changed=PROTOC");
    Ok(())
}
