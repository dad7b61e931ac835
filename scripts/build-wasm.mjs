console.log("[distillery] wasm build: not yet wired");
