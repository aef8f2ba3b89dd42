//! Shape and dtype inference of the linalg family: Matrix products.

#[allow(unused_imports)]
use super::*;

pub(super) fn infer(
    o: &Op,
    op: &'static str,
    ins: &[&TypeInfo],
) -> Result<Vec<TypeInfo>, GraphError> {
    let one = |ti: TypeInfo| Ok(vec![ti]);
    match o {
        Op::MatMul => {
            arity(op, ins, 2, 2)?;
            same_dtype(op, ins[0].dtype, ins[1].dtype)?;
            let (a, b) = (&ins[0].shape, &ins[1].shape);
            if a.is_empty() || b.is_empty() {
                return err(op, "operands must have rank >= 1");
            }
            let a2: Vec<usize> = if a.len() == 1 {
                vec![1, a[0]]
            } else {
                a.clone()
            };
            let b2: Vec<usize> = if b.len() == 1 {
                vec![b[0], 1]
            } else {
                b.clone()
            };
            let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
            let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
            if k != k2 {
                return err(
                    op,
                    format!(
                        "shapes {} and {} are not aligned: {k} (last dim of the first) != {k2} (second-to-last of the second)",
                        shape_str(a),
                        shape_str(b)
                    ),
                );
            }
            let mut out = broadcast(op, &a2[..a2.len() - 2], &b2[..b2.len() - 2])?;
            if a.len() > 1 {
                out.push(m);
            }
            if b.len() > 1 {
                out.push(n);
            }
            one(TypeInfo::new(out, ins[0].dtype))
        }
        Op::Gemm { trans_b } => {
            arity(op, ins, 2, 3)?;
            same_dtype(op, ins[0].dtype, ins[1].dtype)?;
            let (a, b) = (&ins[0].shape, &ins[1].shape);
            if a.len() != 2 || b.len() != 2 {
                return err(
                    op,
                    format!(
                        "needs 2-D operands, got {} and {}",
                        shape_str(a),
                        shape_str(b)
                    ),
                );
            }
            let (kb, n) = if *trans_b { (b[1], b[0]) } else { (b[0], b[1]) };
            if a[1] != kb {
                return err(
                    op,
                    format!(
                        "input has {} features but the weight expects {kb} (shapes {} and {})",
                        a[1],
                        shape_str(a),
                        shape_str(b)
                    ),
                );
            }
            let out = vec![a[0], n];
            if let Some(c) = ins.get(2) {
                same_dtype(op, ins[0].dtype, c.dtype)?;
                let bc = broadcast(op, &c.shape, &out)?;
                if bc != out {
                    return err(op, "bias does not broadcast to the output");
                }
            }
            one(TypeInfo::new(out, ins[0].dtype))
        }
        Op::Einsum { equation } => {
            let e = Einsum::parse(equation).map_err(|m| GraphError { op, msg: m })?;
            if ins.len() != e.inputs.len() {
                return err(
                    op,
                    format!(
                        "\"{equation}\" names {} operands, got {} tensors",
                        e.inputs.len(),
                        ins.len()
                    ),
                );
            }
            for t in &ins[1..] {
                same_dtype(op, ins[0].dtype, t.dtype)?;
            }
            if ins[0].dtype == DType::Bool {
                return err(op, "needs numeric tensors, got bool");
            }
            let sizes = e.sizes(ins).map_err(|m| GraphError { op, msg: m })?;
            let mut out = Vec::new();
            for l in &e.output {
                match l {
                    Some(c) => out.push(sizes.letters[c]),
                    None => out.extend(&sizes.ellipsis),
                }
            }
            one(TypeInfo::new(out, ins[0].dtype))
        }
        other => unreachable!("{other:?} is not in the linalg family"),
    }
}

/// A parsed einsum equation: each term a list of labels, `None` for the
/// ellipsis (`...`); the output explicit.
#[derive(Debug, PartialEq)]
pub struct Einsum {
    pub inputs: Vec<Vec<Option<char>>>,
    pub output: Vec<Option<char>>,
}

/// The sizes an equation gives its letters, and the ellipsis's
/// broadcast shape, for given operands.
pub struct EinsumSizes {
    pub letters: std::collections::BTreeMap<char, usize>,
    pub ellipsis: Vec<usize>,
}

impl Einsum {
    /// Parses `a,b->c` or the implicit `a,b` (output: the ellipsis, then
    /// the letters that appear once, in alphabetical order, as in
    /// torch.einsum). Spaces are ignored.
    pub fn parse(equation: &str) -> Result<Einsum, String> {
        let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
        let (lhs, rhs) = match eq.split_once("->") {
            Some((l, r)) => (l, Some(r)),
            None => (eq.as_str(), None),
        };
        let inputs = lhs
            .split(',')
            .map(|t| Self::term(t, equation))
            .collect::<Result<Vec<_>, _>>()?;
        let output = match rhs {
            Some(r) => {
                let out = Self::term(r, equation)?;
                let mut seen = std::collections::BTreeSet::new();
                for l in out.iter().flatten() {
                    if !seen.insert(*l) {
                        return Err(format!(
                            "\"{equation}\": output subscript '{l}' appears more than once"
                        ));
                    }
                    if !inputs.iter().flatten().any(|x| x == &Some(*l)) {
                        return Err(format!(
                            "\"{equation}\": output subscript '{l}' does not appear in any input"
                        ));
                    }
                }
                out
            }
            None => {
                let mut count = std::collections::BTreeMap::new();
                for l in inputs.iter().flatten().flatten() {
                    *count.entry(*l).or_insert(0) += 1;
                }
                let ell = inputs.iter().flatten().any(Option::is_none);
                ell.then_some(None)
                    .into_iter()
                    .chain(
                        count
                            .into_iter()
                            .filter(|(_, n)| *n == 1)
                            .map(|(l, _)| Some(l)),
                    )
                    .collect()
            }
        };
        let ell_in = inputs.iter().flatten().any(Option::is_none);
        let ell_out = output.iter().any(Option::is_none);
        if ell_in != ell_out {
            return Err(format!(
                "\"{equation}\": write the ellipsis (...) in the output as in the inputs"
            ));
        }
        Ok(Einsum { inputs, output })
    }

    fn term(t: &str, equation: &str) -> Result<Vec<Option<char>>, String> {
        let mut out = Vec::new();
        let mut rest = t;
        while let Some(c) = rest.chars().next() {
            if let Some(r) = rest.strip_prefix("...") {
                if out.contains(&None) {
                    return Err(format!(
                        "\"{equation}\": an operand has more than one ellipsis (...)"
                    ));
                }
                out.push(None);
                rest = r;
            } else if c.is_ascii_alphabetic() {
                out.push(Some(c));
                rest = &rest[1..];
            } else {
                return Err(format!(
                    "\"{equation}\": '{c}' is not a subscript; use letters a-z, A-Z and ..."
                ));
            }
        }
        Ok(out)
    }

    /// The explicit form written into the graph: `a,b->c`.
    pub fn explicit(&self) -> String {
        let text = |t: &[Option<char>]| -> String {
            t.iter()
                .map(|l| l.map_or("...".to_string(), |c| c.to_string()))
                .collect()
        };
        let ins: Vec<String> = self.inputs.iter().map(|t| text(t)).collect();
        format!("{}->{}", ins.join(","), text(&self.output))
    }

    /// Letter sizes (equal wherever a letter appears) and the ellipsis's
    /// broadcast shape.
    pub fn sizes(&self, ins: &[&TypeInfo]) -> Result<EinsumSizes, String> {
        let mut letters = std::collections::BTreeMap::new();
        let mut ellipsis: Vec<usize> = Vec::new();
        for (k, (term, t)) in self.inputs.iter().zip(ins).enumerate() {
            let named = term.iter().filter(|l| l.is_some()).count();
            let has_ell = term.contains(&None);
            if t.rank() < named || (!has_ell && t.rank() != named) {
                return Err(format!(
                    "operand {k} has shape {} but its subscripts name {named} dims{}",
                    shape_str(&t.shape),
                    if has_ell { " or more" } else { "" }
                ));
            }
            let ell_rank = t.rank() - named;
            let mut d = 0;
            for l in term {
                match l {
                    Some(c) => {
                        let size = t.shape[d];
                        if let Some(&prev) = letters.get(c)
                            && prev != size
                        {
                            return Err(format!(
                                "subscript '{c}' has size {prev} in one place and {size} in operand {k} ({}); expand or reshape so they match",
                                shape_str(&t.shape)
                            ));
                        }
                        letters.insert(*c, size);
                        d += 1;
                    }
                    None => {
                        let e = &t.shape[d..d + ell_rank];
                        ellipsis = broadcast("Einsum", &ellipsis, e).map_err(|e| e.msg)?;
                        d += ell_rank;
                    }
                }
            }
        }
        Ok(EinsumSizes { letters, ellipsis })
    }
}

/// The size of the joint index space of an einsum (0 if it does not fit).
pub(super) fn einsum_space(equation: &str, ins: &[&TypeInfo]) -> u64 {
    let Ok(e) = Einsum::parse(equation) else {
        return 0;
    };
    let Ok(s) = e.sizes(ins) else { return 0 };
    s.letters
        .values()
        .chain(&s.ellipsis)
        .map(|&d| d as u64)
        .product()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ti(shape: &[usize]) -> TypeInfo {
        TypeInfo::new(shape.to_vec(), DType::Float32)
    }

    #[test]
    fn einsum_equations_parse_as_torch_reads_them() {
        let e = Einsum::parse("bhqd, bhkd -> bhqk").unwrap();
        assert_eq!(e.explicit(), "bhqd,bhkd->bhqk");
        // Implicit: the letters used once, alphabetically (upper case first).
        assert_eq!(Einsum::parse("ij,jk").unwrap().explicit(), "ij,jk->ik");
        assert_eq!(Einsum::parse("ba,Bc").unwrap().explicit(), "ba,Bc->Babc");
        assert_eq!(
            Einsum::parse("...ij,jk").unwrap().explicit(),
            "...ij,jk->...ik"
        );
        assert_eq!(Einsum::parse("ii").unwrap().explicit(), "ii->");
        for (bad, why) in [
            ("ij->ik", "'k' does not appear"),
            ("ij->ii", "appears more than once"),
            ("i1,j", "'1' is not a subscript"),
            ("...i...", "more than one ellipsis"),
            ("...ij->ij", "write the ellipsis"),
        ] {
            let e = Einsum::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn einsum_shapes_sizes_and_flops() {
        let op = Op::Einsum {
            equation: "bn,anm,bm->ba".into(),
        };
        let ins = [ti(&[2, 3]), ti(&[4, 3, 5]), ti(&[2, 5])];
        let refs: Vec<&TypeInfo> = ins.iter().collect();
        let out = op.infer(&refs).unwrap();
        assert_eq!(out[0].shape, [2, 4]);
        assert_eq!(op.flops(&refs, &out), 2 * 2 * 3 * 4 * 5);
        let ell = Op::Einsum {
            equation: "...ij,...jk->...ik".into(),
        };
        let ins = [ti(&[2, 1, 3, 4]), ti(&[3, 4, 6])];
        let refs: Vec<&TypeInfo> = ins.iter().collect();
        assert_eq!(ell.infer(&refs).unwrap()[0].shape, [2, 3, 3, 6]);
        let e = op
            .infer(&[&ti(&[2, 3]), &ti(&[4, 2, 5]), &ti(&[2, 5])])
            .unwrap_err();
        assert!(e.msg.contains("subscript 'n' has size 3"), "{e}");
        let e = op.infer(&[&ti(&[2, 3])]).unwrap_err();
        assert!(e.msg.contains("names 3 operands, got 1"), "{e}");
        let e = op
            .infer(&[&ti(&[2, 3, 1]), &ti(&[4, 3, 5]), &ti(&[2, 5])])
            .unwrap_err();
        assert!(e.msg.contains("operand 0 has shape [2, 3, 1]"), "{e}");
    }
}
