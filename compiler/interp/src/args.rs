//! Launch arguments: checking them against the kernel's parameters and
//! evaluating the grid, before any program runs.

use crate::buffer::HostBuffer;
use crate::codes;
use crate::elem::{Elem, Scalar};
use crate::error::InterpError;
use crate::locate::{LaunchSite, LaunchSubject};
use crate::value::{Data, Ptr, Tensor, Value, with_scalar_type};
use tessera_tir::{ElemType, Kernel, Loc, MetaExpr, Param, ScalarType, Type};

/// One launch argument, positionally matching the kernel's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KernelArg {
    /// For a pointer parameter: an index into the launch's buffer slice.
    Buffer(usize),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl KernelArg {
    fn describe(self) -> String {
        match self {
            KernelArg::Buffer(i) => format!("buffer {i}"),
            KernelArg::Int(v) => format!("integer {v}"),
            KernelArg::Float(v) => format!("float {v:?}"),
            KernelArg::Bool(v) => format!("bool {v}"),
        }
    }
}

/// The arguments bound to the parameters.
pub(crate) struct Bound {
    /// The value of each parameter, in order.
    pub values: Vec<Value>,
    /// The buffer index of each pointer parameter.
    pub buffers: Vec<Option<usize>>,
}

fn launch_error(
    kernel: &Kernel,
    subject: Option<LaunchSubject>,
    code: &'static str,
    message: String,
    help: Option<String>,
) -> InterpError {
    InterpError {
        code,
        message,
        loc: Loc::UNKNOWN,
        program: None,
        source: kernel.source.clone(),
        site: subject.map(|subject| Box::new(LaunchSite { kernel: kernel.name.clone(), subject })),
        help,
    }
}

/// Check `args` against the parameters (count, kinds, buffer element types,
/// integer ranges) and make each parameter's value.
pub(crate) fn bind(kernel: &Kernel, args: &[KernelArg], buffers: &[HostBuffer]) -> Result<Bound, InterpError> {
    if args.len() != kernel.params.len() {
        let names: Vec<String> = kernel.params.iter().map(|p| format!("`{}`", p.name)).collect();
        return Err(launch_error(
            kernel,
            Some(LaunchSubject::Params),
            codes::ARG_COUNT,
            format!("kernel `{}` takes {} argument(s) but {} were given", kernel.name, kernel.params.len(), args.len()),
            Some(format!("pass one argument per parameter, in order: {}", names.join(", "))),
        ));
    }
    let mut bound = Bound { values: Vec::with_capacity(args.len()), buffers: Vec::with_capacity(args.len()) };
    for (i, (param, &arg)) in kernel.params.iter().zip(args).enumerate() {
        let ty = kernel.values.get(param.value.0 as usize);
        let (value, buffer) = bind_one(kernel, i, param, ty, arg, buffers)?;
        bound.values.push(value);
        bound.buffers.push(buffer);
    }
    Ok(bound)
}

fn bind_one(
    kernel: &Kernel,
    index: usize,
    param: &Param,
    ty: Option<&Type>,
    arg: KernelArg,
    buffers: &[HostBuffer],
) -> Result<(Value, Option<usize>), InterpError> {
    let subject = || Some(LaunchSubject::Param(param.name.clone()));
    let elem = match ty {
        Some(Type::Tensor { elem, shape }) if shape.is_empty() => *elem,
        other => {
            let shown = other.map_or("no type".to_string(), Type::to_string);
            return Err(launch_error(
                kernel,
                subject(),
                codes::MALFORMED,
                format!("parameter `{}` has type {shown}; parameters must be scalars or pointers", param.name),
                None,
            ));
        }
    };
    let kind_error = |expected: &str| {
        launch_error(
            kernel,
            subject(),
            codes::ARG_KIND,
            format!(
                "argument {index} for parameter `{}: {elem}` is a {}; expected {expected}",
                param.name,
                arg.describe()
            ),
            Some(format!("pass {expected} for `{}`", param.name)),
        )
    };
    let scalar = |s: ScalarType, x: Scalar| -> Value {
        let data = with_scalar_type!(s, T => T::into_data(vec![T::from_scalar(x)]));
        Value::Tensor(Tensor { shape: Vec::new(), data })
    };
    match (elem, arg) {
        (ElemType::Ptr(pointee), KernelArg::Buffer(b)) => {
            let Some(buffer) = buffers.get(b) else {
                return Err(launch_error(
                    kernel,
                    subject(),
                    codes::BUFFER_INDEX,
                    format!(
                        "argument {index} for parameter `{}` is buffer {b}, but only {} buffer(s) were passed",
                        param.name,
                        buffers.len()
                    ),
                    None,
                ));
            };
            if buffer.elem() != pointee {
                return Err(launch_error(
                    kernel,
                    subject(),
                    codes::BUFFER_TYPE,
                    format!("parameter `{}` points to {pointee} but buffer {b} holds {}", param.name, buffer.elem()),
                    Some(format!("pass a buffer of {pointee} elements")),
                ));
            }
            let ptr = Ptr { param: index as u32, off: 0 };
            Ok((Value::Tensor(Tensor { shape: Vec::new(), data: Data::Ptr(vec![ptr]) }), Some(b)))
        }
        (ElemType::Ptr(_), _) => Err(kind_error("a buffer")),
        (ElemType::Scalar(ScalarType::I1), KernelArg::Bool(v)) => {
            Ok((scalar(ScalarType::I1, Scalar::Int(v.into())), None))
        }
        (ElemType::Scalar(ScalarType::I1), _) => Err(kind_error("a bool")),
        (ElemType::Scalar(s), KernelArg::Int(v)) if s.is_int() => {
            let bits = s.bits();
            let fits = bits >= 64 || (-(1i64 << (bits - 1))..(1i64 << (bits - 1))).contains(&v);
            if !fits {
                return Err(launch_error(
                    kernel,
                    subject(),
                    codes::INT_RANGE,
                    format!("argument {index} for parameter `{}: {s}` is {v}, which does not fit in {s}", param.name),
                    Some(format!("declare the parameter as i64, or pass a value that fits in {s}")),
                ));
            }
            Ok((scalar(s, Scalar::Int(v)), None))
        }
        (ElemType::Scalar(s), _) if s.is_int() => Err(kind_error("an integer")),
        (ElemType::Scalar(s), KernelArg::Float(v)) => Ok((scalar(s, Scalar::Float(v)), None)),
        (ElemType::Scalar(_), _) => Err(kind_error("a float")),
    }
}

const OVERFLOW_HELP: &str =
    "the grid is computed from the arguments: pass smaller sizes, or give each program more work";

/// Why a grid expression has no value.
enum GridFault {
    Param(String),
    DivZero,
    Overflow,
}

fn eval(expr: &MetaExpr, lookup: &dyn Fn(&str) -> Option<i64>) -> Result<i64, GridFault> {
    let pair =
        |a: &MetaExpr, b: &MetaExpr| -> Result<(i64, i64), GridFault> { Ok((eval(a, lookup)?, eval(b, lookup)?)) };
    let checked = |v: Option<i64>| v.ok_or(GridFault::Overflow);
    let divisor = |b: i64| if b == 0 { Err(GridFault::DivZero) } else { Ok(b) };
    match expr {
        MetaExpr::Int(v) => Ok(*v),
        MetaExpr::Param(p) => lookup(p).ok_or_else(|| GridFault::Param(p.clone())),
        MetaExpr::Add(a, b) => pair(a, b).and_then(|(a, b)| checked(a.checked_add(b))),
        MetaExpr::Sub(a, b) => pair(a, b).and_then(|(a, b)| checked(a.checked_sub(b))),
        MetaExpr::Mul(a, b) => pair(a, b).and_then(|(a, b)| checked(a.checked_mul(b))),
        MetaExpr::Div(a, b) => pair(a, b).and_then(|(a, b)| checked(a.checked_div(divisor(b)?))),
        MetaExpr::Rem(a, b) => pair(a, b).and_then(|(a, b)| checked(a.checked_rem(divisor(b)?))),
        MetaExpr::Cdiv(a, b) => pair(a, b).and_then(|(a, b)| {
            let b = divisor(b)?;
            let q = checked(a.checked_div_euclid(b))?;
            let r = checked(a.checked_rem_euclid(b))?;
            checked(q.checked_add(i64::from(r != 0)))
        }),
        MetaExpr::Min(a, b) => pair(a, b).map(|(a, b)| a.min(b)),
        MetaExpr::Max(a, b) => pair(a, b).map(|(a, b)| a.max(b)),
        MetaExpr::Cmp(op, a, b) => pair(a, b).map(|(a, b)| i64::from(op.holds(a, b))),
        MetaExpr::And(a, b) => pair(a, b).map(|(a, b)| i64::from(a != 0 && b != 0)),
        MetaExpr::Or(a, b) => pair(a, b).map(|(a, b)| i64::from(a != 0 || b != 0)),
        MetaExpr::Not(a) => eval(a, lookup).map(|a| i64::from(a == 0)),
    }
}

/// The integer argument of parameter `name`, by position.
fn int_arg(kernel: &Kernel, args: &[KernelArg], name: &str) -> Option<i64> {
    let i = kernel.params.iter().position(|p| p.name == name)?;
    match args.get(i)? {
        KernelArg::Int(v) => Some(*v),
        _ => None,
    }
}

/// Check `kernel.meta.require` against the integer arguments: a condition
/// that is false (or has no value) stops the launch before any program runs.
pub(crate) fn check_require(kernel: &Kernel, args: &[KernelArg]) -> Result<(), InterpError> {
    let lookup = |name: &str| int_arg(kernel, args, name);
    for cond in &kernel.meta.require {
        let values: Vec<String> = cond.params().iter().filter_map(|p| Some(format!("{p} = {}", lookup(p)?))).collect();
        let with = if values.is_empty() { String::new() } else { format!(" with {}", values.join(", ")) };
        let why = match eval(cond, &lookup) {
            Ok(0) => "is false".to_string(),
            Ok(_) => continue,
            Err(GridFault::Param(p)) => format!("names `{p}`, which is not an integer parameter"),
            Err(GridFault::DivZero) => "divides by zero".to_string(),
            Err(GridFault::Overflow) => "overflows i64".to_string(),
        };
        return Err(launch_error(
            kernel,
            Some(LaunchSubject::Require),
            codes::REQUIRE_FAILED,
            format!("kernel `{}` requires `{cond}`, which {why}{with}", kernel.name),
            Some("launch with arguments the condition admits, or a specialization whose compile-time values do".into()),
        ));
    }
    Ok(())
}

/// Evaluate `kernel.meta.grid` with the integer arguments, by parameter name.
pub(crate) fn eval_grid(kernel: &Kernel, args: &[KernelArg]) -> Result<[u32; 3], InterpError> {
    let dims = &kernel.meta.grid;
    if dims.len() > 3 {
        return Err(launch_error(
            kernel,
            Some(LaunchSubject::Grid(3)),
            codes::GRID_RANK,
            format!("kernel `{}` has {} grid dimensions; at most 3 are supported", kernel.name, dims.len()),
            None,
        ));
    }
    let lookup = |name: &str| int_arg(kernel, args, name);
    let mut grid = [1u32; 3];
    for (axis, expr) in dims.iter().enumerate() {
        let value = eval(expr, &lookup).map_err(|fault| {
            let (code, what, help) = match fault {
                GridFault::Param(p) => {
                    (codes::GRID_PARAM, format!("names `{p}`, which is not an integer parameter"), None)
                }
                GridFault::DivZero => (
                    codes::GRID_DIV_ZERO,
                    "divides by zero".to_string(),
                    Some("the grid divides by an argument that is 0: pass a nonzero value".to_string()),
                ),
                GridFault::Overflow => {
                    (codes::GRID_OVERFLOW, "overflows i64".to_string(), Some(OVERFLOW_HELP.to_string()))
                }
            };
            launch_error(
                kernel,
                Some(LaunchSubject::Grid(axis)),
                code,
                format!("grid dimension {axis} `{expr}` {what}"),
                help,
            )
        })?;
        grid[axis] = grid_dim(kernel, axis, &expr.to_string(), value)?;
    }
    Ok(grid)
}

/// Check one evaluated grid dimension.
pub(crate) fn grid_dim(kernel: &Kernel, axis: usize, expr: &str, value: i64) -> Result<u32, InterpError> {
    let fail = |code, what: String, help: &str| {
        let message = format!("grid dimension {axis} `{expr}` {what}");
        launch_error(kernel, Some(LaunchSubject::Grid(axis)), code, message, Some(help.to_string()))
    };
    if value < 0 {
        let help = "the grid is computed from the arguments: pass sizes that are not negative";
        return Err(fail(codes::GRID_NEGATIVE, format!("is negative ({value})"), help));
    }
    if value == 0 {
        let help = "the launch needs every grid dimension > 0: pass a nonzero size, or skip the launch for empty input";
        return Err(fail(codes::GRID_EMPTY, "is 0: the launch would run no program".to_string(), help));
    }
    u32::try_from(value)
        .map_err(|_| fail(codes::GRID_OVERFLOW, format!("is {value}, more than {}", u32::MAX), OVERFLOW_HELP))
}
