console.log("[distillery] native build: not yet wired");
