//! The allocator of every wasm module: [Talc](https://docs.rs/talc), not the standard
//! library's dlmalloc. Measured on the shipped modules (`cargo xtask bench size`), it is
//! 7 KB smaller raw in each and 2.4 KB (background) to 3.0 KB (popup) smaller gzipped, and
//! its authors' WebAssembly benchmarks find it faster. Each module is single-threaded (no
//! `atomics`), which is what `WasmDynamicTalc` is for; it grows the module's memory as
//! dlmalloc did. Native builds (core's and the glue's tests) keep the system allocator.

#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
