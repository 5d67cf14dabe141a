//! A thin, fallible layer over melior's generic `OperationBuilder`.
//!
//! melior's typed helpers (`dialect::llvm::load`, ...) `expect` on failure and
//! its ODS-generated builders cost minutes of compile time on a 2-core box, so
//! the backend builds every operation generically here: one place that turns
//! a failed build or a bad type/attribute string into a [`BackendError`] of
//! stage [`Stage::MlirBuild`] carrying MLIR's own diagnostic.

use melior::{
    Context,
    ir::{
        Attribute, Block, BlockLike, Identifier, Location, Operation, OperationRef, Region, RegionLike, Type, Value,
        ValueLike,
        attribute::{
            DenseI32ArrayAttribute, DenseI64ArrayAttribute, FloatAttribute, IntegerAttribute, StringAttribute,
            TypeAttribute,
        },
        operation::OperationBuilder,
        r#type::IntegerType,
    },
};

use crate::{
    context::MlirContext,
    error::{Result, Stage},
};

/// `arith.cmpi` predicates (the `I64EnumAttr` values of MLIR's `CmpIPredicate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpI {
    Eq = 0,
    Ne = 1,
    Slt = 2,
    Sle = 3,
    Sgt = 4,
    Sge = 5,
    Ult = 6,
    Ule = 7,
    Ugt = 8,
    Uge = 9,
}

/// Builds operations at one location, reporting failures with MLIR's diagnostics.
pub struct Emitter<'c> {
    mlir: &'c MlirContext,
    location: Location<'c>,
}

impl<'c> Emitter<'c> {
    pub fn new(mlir: &'c MlirContext, location: Location<'c>) -> Emitter<'c> {
        Emitter { mlir, location }
    }

    pub fn context(&self) -> &'c Context {
        self.mlir.mlir()
    }

    pub fn location(&self) -> Location<'c> {
        self.location
    }

    /// Parses a type in MLIR syntax (`!llvm.ptr<1>`, `!llvm.struct<(f32, f32)>`).
    pub fn parse_type(&self, text: &str) -> Result<Type<'c>> {
        Type::parse(self.context(), text)
            .ok_or_else(|| self.mlir.error(Stage::MlirBuild, format!("cannot parse type `{text}`")))
    }

    /// Parses an attribute in MLIR syntax (`#nvvm.shape<m = 16, n = 8, k = 16>`).
    pub fn parse_attribute(&self, text: &str) -> Result<Attribute<'c>> {
        Attribute::parse(self.context(), text)
            .ok_or_else(|| self.mlir.error(Stage::MlirBuild, format!("cannot parse attribute `{text}`")))
    }

    /// A named attribute, for `OperationBuilder::add_attributes`.
    pub fn named(&self, name: &str, attribute: Attribute<'c>) -> (Identifier<'c>, Attribute<'c>) {
        (Identifier::new(self.context(), name), attribute)
    }

    pub fn i32_type(&self) -> Type<'c> {
        IntegerType::new(self.context(), 32).into()
    }

    pub fn f32_type(&self) -> Type<'c> {
        Type::float32(self.context())
    }

    /// Starts an operation at this emitter's location.
    pub fn op(&self, name: &str) -> OperationBuilder<'c> {
        OperationBuilder::new(name, self.location)
    }

    /// Finishes an operation without inserting it (for region-holding ops).
    pub fn build(&self, builder: OperationBuilder<'c>, name: &str) -> Result<Operation<'c>> {
        builder
            .build()
            .map_err(|error| self.mlir.error(Stage::MlirBuild, format!("cannot create operation `{name}`: {error}")))
    }

    /// Builds an operation and appends it to `block`.
    pub fn append<'a>(
        &self,
        block: &'a Block<'c>,
        builder: OperationBuilder<'c>,
        name: &str,
    ) -> Result<OperationRef<'c, 'a>> {
        Ok(block.append_operation(self.build(builder, name)?))
    }

    /// Builds a single-result operation, appends it and returns its result.
    pub fn value<'a>(&self, block: &'a Block<'c>, builder: OperationBuilder<'c>, name: &str) -> Result<Value<'c, 'a>> {
        let op = self.append(block, builder, name)?;
        op.result(0)
            .map(Into::into)
            .map_err(|error| self.mlir.error(Stage::MlirBuild, format!("operation `{name}` has no result: {error}")))
    }

    pub fn const_i32<'a>(&self, block: &'a Block<'c>, value: i32) -> Result<Value<'c, 'a>> {
        let attr = IntegerAttribute::new(self.i32_type(), i64::from(value));
        let op = self
            .op("arith.constant")
            .add_attributes(&[self.named("value", attr.into())])
            .add_results(&[self.i32_type()]);
        self.value(block, op, "arith.constant")
    }

    pub fn const_f32<'a>(&self, block: &'a Block<'c>, value: f32) -> Result<Value<'c, 'a>> {
        let attr = FloatAttribute::new(self.context(), self.f32_type(), f64::from(value));
        let op = self
            .op("arith.constant")
            .add_attributes(&[self.named("value", attr.into())])
            .add_results(&[self.f32_type()]);
        self.value(block, op, "arith.constant")
    }

    /// A same-typed binary operation (`arith.addi`, `arith.mulf`, ...).
    pub fn binary<'a>(
        &self,
        block: &'a Block<'c>,
        name: &str,
        lhs: Value<'c, '_>,
        rhs: Value<'c, '_>,
    ) -> Result<Value<'c, 'a>> {
        let op = self.op(name).add_operands(&[lhs, rhs]).add_results(&[lhs.r#type()]);
        self.value(block, op, name)
    }

    pub fn cmpi<'a>(
        &self,
        block: &'a Block<'c>,
        predicate: CmpI,
        lhs: Value<'c, '_>,
        rhs: Value<'c, '_>,
    ) -> Result<Value<'c, 'a>> {
        let i64_type = IntegerType::new(self.context(), 64).into();
        let predicate = IntegerAttribute::new(i64_type, predicate as i64);
        let op = self
            .op("arith.cmpi")
            .add_attributes(&[self.named("predicate", predicate.into())])
            .add_operands(&[lhs, rhs])
            .add_results(&[IntegerType::new(self.context(), 1).into()]);
        self.value(block, op, "arith.cmpi")
    }

    /// Reads a PTX special register as i32: `sreg("tid.x")` is `nvvm.read.ptx.sreg.tid.x`.
    pub fn sreg<'a>(&self, block: &'a Block<'c>, register: &str) -> Result<Value<'c, 'a>> {
        let name = format!("nvvm.read.ptx.sreg.{register}");
        let op = self.op(&name).add_results(&[self.i32_type()]);
        self.value(block, op, &name)
    }

    /// `llvm.getelementptr ptr[index]` over elements of `element`.
    pub fn gep<'a>(
        &self,
        block: &'a Block<'c>,
        ptr: Value<'c, '_>,
        index: Value<'c, '_>,
        element: Type<'c>,
    ) -> Result<Value<'c, 'a>> {
        let op = self
            .op("llvm.getelementptr")
            .add_attributes(&[
                // i32::MIN marks "this index is an SSA operand" in rawConstantIndices.
                self.named("rawConstantIndices", DenseI32ArrayAttribute::new(self.context(), &[i32::MIN]).into()),
                self.named("elem_type", TypeAttribute::new(element).into()),
            ])
            .add_operands(&[ptr, index])
            .add_results(&[ptr.r#type()]);
        self.value(block, op, "llvm.getelementptr")
    }

    pub fn load<'a>(&self, block: &'a Block<'c>, ptr: Value<'c, '_>, r#type: Type<'c>) -> Result<Value<'c, 'a>> {
        self.value(block, self.op("llvm.load").add_operands(&[ptr]).add_results(&[r#type]), "llvm.load")
    }

    pub fn store(&self, block: &Block<'c>, value: Value<'c, '_>, ptr: Value<'c, '_>) -> Result<()> {
        self.append(block, self.op("llvm.store").add_operands(&[value, ptr]), "llvm.store").map(|_| ())
    }

    /// `llvm.extractvalue aggregate[position]`.
    pub fn extract_value<'a>(
        &self,
        block: &'a Block<'c>,
        aggregate: Value<'c, '_>,
        position: i64,
        r#type: Type<'c>,
    ) -> Result<Value<'c, 'a>> {
        let op = self
            .op("llvm.extractvalue")
            .add_attributes(&[self.named("position", DenseI64ArrayAttribute::new(self.context(), &[position]).into())])
            .add_operands(&[aggregate])
            .add_results(&[r#type]);
        self.value(block, op, "llvm.extractvalue")
    }

    /// `scf.if condition { then }` without results; `then` fills the block,
    /// the terminating `scf.yield` is added here.
    pub fn if_then(
        &self,
        block: &Block<'c>,
        condition: Value<'c, '_>,
        then: impl FnOnce(&Block<'c>) -> Result<()>,
    ) -> Result<()> {
        let then_block = Block::new(&[]);
        then(&then_block)?;
        self.append(&then_block, self.op("scf.yield"), "scf.yield")?;
        let then_region = Region::new();
        then_region.append_block(then_block);
        let op = self.op("scf.if").add_operands(&[condition]).add_regions([then_region, Region::new()]);
        self.append(block, op, "scf.if").map(|_| ())
    }

    /// An `llvm.func` marked `nvvm.kernel` (so PTX gets an `.entry`), returning
    /// void. `body` fills the entry block, whose arguments are the parameters;
    /// the closing `llvm.return` is added here. `extra` adds attributes such as
    /// `nvvm.reqntid`.
    pub fn kernel(
        &self,
        module_body: &Block<'c>,
        name: &str,
        parameters: &[Type<'c>],
        extra: &[(Identifier<'c>, Attribute<'c>)],
        body: impl FnOnce(&Block<'c>) -> Result<()>,
    ) -> Result<()> {
        let parameter_list: Vec<String> = parameters.iter().map(ToString::to_string).collect();
        let function_type = self.parse_type(&format!("!llvm.func<void ({})>", parameter_list.join(", ")))?;
        let entry = Block::new(&parameters.iter().map(|&t| (t, self.location)).collect::<Vec<_>>());
        body(&entry)?;
        self.append(&entry, self.op("llvm.return"), "llvm.return")?;
        let region = Region::new();
        region.append_block(entry);
        let op = self
            .op("llvm.func")
            .add_attributes(&[
                self.named("sym_name", StringAttribute::new(self.context(), name).into()),
                self.named("function_type", TypeAttribute::new(function_type).into()),
                self.named("nvvm.kernel", Attribute::unit(self.context())),
            ])
            .add_attributes(extra)
            .add_regions([region]);
        self.append(module_body, op, "llvm.func").map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use melior::ir::{Module, operation::OperationLike};

    #[test]
    fn bad_attribute_text_is_an_error_with_mlir_diagnostic() {
        let mlir = MlirContext::new();
        let emitter = Emitter::new(&mlir, Location::unknown(mlir.mlir()));
        let error = emitter.parse_attribute("#nvvm.shape<m = 16, n = 8>").expect_err("k is missing");
        assert_eq!(error.code(), "E0800");
        assert!(error.to_string().contains("cannot parse attribute `#nvvm.shape<m = 16, n = 8>`"), "{error}");
        assert!(!error.diagnostics.is_empty(), "MLIR's reason was not captured: {error}");
    }

    #[test]
    fn kernel_builds_a_verified_llvm_func_with_the_kernel_attribute() {
        let mlir = MlirContext::new();
        let emitter = Emitter::new(&mlir, Location::unknown(mlir.mlir()));
        let module = Module::new(emitter.location());
        let i32_type = emitter.i32_type();
        emitter
            .kernel(&module.body(), "k", &[i32_type], &[], |block| {
                let tid = emitter.sreg(block, "tid.x")?;
                let n = block.argument(0).map_err(|e| mlir.error(Stage::MlirBuild, e.to_string()))?;
                let inside = emitter.cmpi(block, CmpI::Slt, tid, n.into())?;
                emitter.if_then(block, inside, |_| Ok(()))
            })
            .expect("kernel builds");
        assert!(module.as_operation().verify(), "{}", module.as_operation());
        let text = module.as_operation().to_string();
        assert!(text.contains("llvm.func @k(%arg0: i32) attributes {nvvm.kernel}"), "{text}");
        assert!(text.contains("nvvm.read.ptx.sreg.tid.x : i32"), "{text}");
        assert!(text.contains("arith.cmpi slt"), "{text}");
        assert!(text.contains("scf.if"), "{text}");
    }
}
