//! A serving machine must not need LLVM or MLIR: no crate binding them may
//! enter the runtime's normal dependency tree.

use std::process::Command;

const FORBIDDEN: [&str; 4] = ["llvm-sys", "mlir-sys", "inkwell", "melior"];

#[test]
fn no_llvm_or_mlir_in_the_dependency_tree() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .args(["tree", "-p", "tessera-runtime", "-e", "normal", "--prefix", "none", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    let output = match output {
        Ok(o) => o,
        Err(e) => {
            println!("SKIPPED (cargo not available: {e}): dependency tree check");
            return;
        }
    };
    assert!(output.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8_lossy(&output.stdout);
    let names: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(names.contains(&"tessera-runtime") && names.contains(&"cudarc"), "unexpected tree:\n{tree}");
    for forbidden in FORBIDDEN {
        assert!(!names.contains(&forbidden), "`{forbidden}` is in the runtime's dependency tree:\n{tree}");
    }
    // Nor any compiler crate.
    for name in &names {
        assert!(
            !name.starts_with("tessera-") || *name == "tessera-runtime",
            "compiler crate `{name}` is in the runtime's dependency tree"
        );
    }
}
