//! The parser must never panic, whatever it is fed: mutate valid IR text
//! and check it either parses (then prints and re-parses to the same text,
//! and the verifier runs without panicking; if it verifies, the default
//! pipeline keeps it valid) or fails with an E05xx error.

use proptest::prelude::*;
use tessera_tir::passes::PassManager;
use tessera_tir::{parse_kernel, print_kernel, verify};

const ALL_OPS: &str = include_str!("all_ops.tir");

#[derive(Clone, Debug)]
enum Edit {
    Delete(usize, usize),
    Duplicate(usize, usize),
    Swap(usize, usize),
    Insert(usize, char),
    /// Replace the token (whitespace-separated word) at this index with another.
    ReplaceToken(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..8).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Edit::Swap(i, j)),
        (
            any::<usize>(),
            prop::sample::select(vec![
                '%', '{', '}', '(', ')', '<', '>', ',', ':', '-', 'x', '"', '\\', '9', '\n', 'é', '^', '@'
            ])
        )
            .prop_map(|(i, c)| Edit::Insert(i, c)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Edit::ReplaceToken(i, j)),
    ]
}

fn apply(text: &str, e: &Edit) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let len = chars.len().max(1);
    match *e {
        Edit::Delete(i, n) => {
            let i = i % len;
            let end = (i + n).min(chars.len());
            chars.drain(i.min(end)..end);
        }
        Edit::Duplicate(i, n) => {
            let i = i % len;
            let end = (i + n).min(chars.len());
            let piece: Vec<char> = chars[i.min(end)..end].to_vec();
            chars.splice(end..end, piece);
        }
        Edit::Swap(i, j) => {
            if !chars.is_empty() {
                let n = chars.len();
                chars.swap(i % n, j % n);
            }
        }
        Edit::Insert(i, c) => {
            let at = i % (chars.len() + 1);
            chars.insert(at, c);
        }
        Edit::ReplaceToken(i, j) => {
            let s: String = chars.iter().collect();
            let mut words: Vec<&str> = s.split(' ').collect();
            let (a, b) = (i % words.len(), j % words.len());
            words[a] = words[b];
            return words.join(" ");
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_text_never_panics(edits in prop::collection::vec(edit(), 1..5)) {
        let mut text = ALL_OPS.to_string();
        for e in &edits {
            text = apply(&text, e);
        }
        match parse_kernel(&text) {
            Ok(k) => {
                let printed = print_kernel(&k);
                let again = parse_kernel(&printed).map_err(|e| TestCaseError::fail(format!("{e}\n{printed}")))?;
                prop_assert_eq!(print_kernel(&again), printed);
                // A mutation that still verifies must survive the pipeline:
                // the pass manager re-verifies after every pass.
                if verify(&k).is_ok() {
                    let mut k = k;
                    let run = PassManager::default_pipeline().run(&mut k);
                    prop_assert!(run.is_ok(), "{}", run.err().map(|e| e.to_string()).unwrap_or_default());
                }
            }
            Err(e) => prop_assert!(e.code.starts_with("E05"), "{}", e),
        }
    }
}
