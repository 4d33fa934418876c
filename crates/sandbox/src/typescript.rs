//! Runs TypeScript by blanking its type-only syntax with spaces.
//!
//! The code is parsed as TypeScript with oxc; every span that only carries types
//! (annotations, type parameters and arguments, `as T`, `satisfies T`, non-null `!`,
//! interfaces, type aliases, `declare`, overloads, access modifiers, ...) is replaced by
//! spaces, keeping line breaks. What is left is plain JavaScript with every character where it
//! was, so errors and stack traces still point at the agent's lines and columns. Syntax that
//! would need code generated (enums, namespaces, parameter properties) is reported as
//! unsupported instead.

use std::thread;

use oxc_allocator::Allocator;
use oxc_ast::ast::{
    Class, ClassElement, Expression, FormalParameter, Function, MethodDefinition,
    MethodDefinitionType, PropertyDefinition, PropertyDefinitionType, PropertyKey, TSAsExpression,
    TSEnumDeclaration, TSExportAssignment, TSExternalModuleDeclaration, TSGlobalDeclaration,
    TSImportEqualsDeclaration, TSInterfaceDeclaration, TSNamespaceDeclaration,
    TSNamespaceExportDeclaration, TSNonNullExpression, TSSatisfiesExpression, TSThisParameter,
    TSTypeAliasDeclaration, TSTypeAnnotation, TSTypeAssertion, TSTypeParameterDeclaration,
    TSTypeParameterInstantiation, VariableDeclaration, VariableDeclarator,
};
use oxc_ast_visit::{Visit, walk};
use oxc_parser::{ParseOptions, Parser};
use oxc_span::{GetSpan, SourceType, Span};
use oxc_syntax::scope::ScopeFlags;

/// The outcome of stripping types from agent code.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stripped {
    /// The code with its types blanked.
    Code(String),
    /// The code is not TypeScript either, or has no types to strip.
    NotTypeScript,
    /// The code uses TypeScript that cannot be blanked away.
    Unsupported {
        /// Byte offset of the construct.
        offset: usize,
        /// What to do instead.
        message: String,
    },
}

/// Native stack for parsing, per byte of code: oxc's parser and visitor recurse once per
/// nesting level, and code can nest as deep as it is long. Only the pages used are touched.
const STACK_PER_BYTE: usize = 4 << 10;

/// Native stack for parsing, beyond what the code's length calls for.
const STACK_BASE: usize = 1 << 20;

/// Strips the type-only syntax from agent code: a function expression or a bare body
/// (top-level `return` and `await` are accepted). Parses on a thread whose stack fits the
/// deepest nesting the code could have, so no input can overflow it.
pub(crate) fn strip(code: &str) -> Stripped {
    let stack = STACK_BASE.saturating_add(code.len().saturating_mul(STACK_PER_BYTE));
    thread::scope(|scope| {
        thread::Builder::new()
            .name("sandbox-typescript".into())
            .stack_size(stack)
            .spawn_scoped(scope, || strip_here(code))
            .ok()
            .and_then(|parsing| parsing.join().ok())
            .unwrap_or(Stripped::NotTypeScript)
    })
}

/// Strips types on the current thread.
fn strip_here(code: &str) -> Stripped {
    let allocator = Allocator::default();
    let options = ParseOptions {
        allow_return_outside_function: true,
        ..ParseOptions::default()
    };
    let parsed = Parser::new(&allocator, code, SourceType::ts().with_module(true))
        .with_options(options)
        .parse();
    if parsed.panicked || parsed.diagnostics.has_errors() {
        return Stripped::NotTypeScript;
    }
    let mut blanker = Blanker {
        source: code,
        blanks: Vec::new(),
        unsupported: None,
    };
    blanker.visit_program(&parsed.program);
    if let Some((offset, message)) = blanker.unsupported {
        return Stripped::Unsupported { offset, message };
    }
    if blanker.blanks.is_empty() {
        return Stripped::NotTypeScript;
    }
    let comments: Vec<Span> = parsed
        .program
        .comments
        .iter()
        .map(|comment| comment.span)
        .collect();
    Stripped::Code(apply(code, &blanker.blanks, &comments))
}

/// A byte range to blank. A blanked statement or class member after other code starts with
/// `;`, so the code around it cannot run together.
struct Blank {
    start: usize,
    end: usize,
    statement: bool,
}

/// What to write for one byte of the code.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Keep,
    Comment,
    Blank,
    Statement,
}

/// Writes `code` with the blanked ranges replaced by spaces, one per character, keeping
/// line breaks. Statements blanked before any code are left without a `;`, so declarations
/// ahead of a function expression still leave an expression.
fn apply(code: &str, blanks: &[Blank], comments: &[Span]) -> String {
    let mut marks = vec![Mark::Keep; code.len()];
    for comment in comments {
        let end = (comment.end as usize).min(code.len());
        let start = (comment.start as usize).min(end);
        marks[start..end].fill(Mark::Comment);
    }
    for blank in blanks {
        let end = blank.end.min(code.len());
        let start = blank.start.min(end);
        marks[start..end].fill(Mark::Blank);
        if blank.statement && start < end {
            marks[start] = Mark::Statement;
        }
    }
    let mut after_code = false;
    code.char_indices()
        .map(|(at, c)| match marks[at] {
            Mark::Keep => {
                after_code |= !c.is_whitespace();
                c
            }
            Mark::Comment => c,
            _ if matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}') => c,
            Mark::Statement if after_code => ';',
            _ => ' ',
        })
        .collect()
}

/// Modifiers that only exist in TypeScript and can precede a class member.
const MODIFIERS: [&str; 7] = [
    "public",
    "private",
    "protected",
    "readonly",
    "override",
    "declare",
    "abstract",
];

/// Collects the type-only spans of a TypeScript program.
struct Blanker<'s> {
    source: &'s str,
    blanks: Vec<Blank>,
    unsupported: Option<(usize, String)>,
}

impl Blanker<'_> {
    fn blank(&mut self, start: u32, end: u32) {
        self.blanks.push(Blank {
            start: start as usize,
            end: end as usize,
            statement: false,
        });
    }

    fn blank_span(&mut self, span: Span) {
        self.blank(span.start, span.end);
    }

    /// Blanks a whole statement or class member.
    fn blank_statement(&mut self, span: Span) {
        self.blanks.push(Blank {
            start: span.start as usize,
            end: span.end as usize,
            statement: true,
        });
    }

    fn refuse(&mut self, span: Span, message: &str) {
        self.unsupported
            .get_or_insert((span.start as usize, message.to_owned()));
    }

    /// Blanks the first `mark` character (`?` or `!`) in `start..end`.
    fn blank_mark(&mut self, mark: char, start: u32, end: u32) {
        let (from, to) = (start as usize, (end as usize).min(self.source.len()));
        if let Some(at) = self.source.get(from..to).and_then(|text| text.find(mark)) {
            let at = u32::try_from(from + at).unwrap_or(u32::MAX);
            self.blank(at, at + 1);
        }
    }

    /// Blanks TypeScript-only modifier words in `start..end` (the text before a member's key).
    fn blank_modifiers(&mut self, start: u32, end: u32) {
        let (from, to) = (start as usize, (end as usize).min(self.source.len()));
        let Some(text) = self.source.get(from..to) else {
            return;
        };
        let mut words = Vec::new();
        let mut word_start = None;
        for (at, c) in text.char_indices().chain([(text.len(), ' ')]) {
            let is_word = c.is_alphanumeric() || c == '_' || c == '$';
            match (is_word, word_start) {
                (true, None) => word_start = Some(at),
                (false, Some(begin)) => {
                    words.push((begin, &text[begin..at]));
                    word_start = None;
                }
                _ => {}
            }
        }
        for (begin, word) in words {
            if MODIFIERS.contains(&word) {
                let begin = u32::try_from(from + begin).unwrap_or(u32::MAX);
                let length = u32::try_from(word.len()).unwrap_or(0);
                self.blank(begin, begin + length);
            }
        }
    }

    /// Where a class member's modifiers start: after its decorators.
    fn after_decorators(span: Span, decorators: &[oxc_ast::ast::Decorator<'_>]) -> u32 {
        decorators
            .iter()
            .map(|decorator| decorator.span.end)
            .fold(span.start, u32::max)
    }

    /// The first byte after `span` and any whitespace and one comma that follow it.
    fn through_comma(&self, end: u32) -> u32 {
        let rest = self.source.get(end as usize..).unwrap_or("");
        let skipped = rest.len() - rest.trim_start().len();
        let after = &rest[skipped..];
        if after.starts_with(',') {
            end + u32::try_from(skipped + 1).unwrap_or(0)
        } else {
            end
        }
    }
}

fn key_start(key: &PropertyKey<'_>) -> u32 {
    key.span().start
}

fn expression_end(expression: &Expression<'_>) -> u32 {
    expression.span().end
}

impl<'a> Visit<'a> for Blanker<'_> {
    fn visit_ts_type_annotation(&mut self, it: &TSTypeAnnotation<'a>) {
        self.blank_span(it.span);
    }

    fn visit_ts_type_parameter_declaration(&mut self, it: &TSTypeParameterDeclaration<'a>) {
        self.blank_span(it.span);
    }

    fn visit_ts_type_parameter_instantiation(&mut self, it: &TSTypeParameterInstantiation<'a>) {
        self.blank_span(it.span);
    }

    fn visit_ts_as_expression(&mut self, it: &TSAsExpression<'a>) {
        self.blank(expression_end(&it.expression), it.span.end);
        self.visit_expression(&it.expression);
    }

    fn visit_ts_satisfies_expression(&mut self, it: &TSSatisfiesExpression<'a>) {
        self.blank(expression_end(&it.expression), it.span.end);
        self.visit_expression(&it.expression);
    }

    fn visit_ts_non_null_expression(&mut self, it: &TSNonNullExpression<'a>) {
        self.blank(expression_end(&it.expression), it.span.end);
        self.visit_expression(&it.expression);
    }

    fn visit_ts_type_assertion(&mut self, it: &TSTypeAssertion<'a>) {
        self.blank(it.span.start, it.expression.span().start);
        self.visit_expression(&it.expression);
    }

    fn visit_ts_type_alias_declaration(&mut self, it: &TSTypeAliasDeclaration<'a>) {
        self.blank_statement(it.span);
    }

    fn visit_ts_interface_declaration(&mut self, it: &TSInterfaceDeclaration<'a>) {
        self.blank_statement(it.span);
    }

    fn visit_ts_enum_declaration(&mut self, it: &TSEnumDeclaration<'a>) {
        if it.declare {
            self.blank_statement(it.span);
        } else {
            self.refuse(
                it.span,
                "TypeScript enums are not supported here: use a plain object instead",
            );
        }
    }

    fn visit_ts_namespace_declaration(&mut self, it: &TSNamespaceDeclaration<'a>) {
        if it.declare {
            self.blank_statement(it.span);
        } else {
            self.refuse(
                it.span,
                "TypeScript namespaces are not supported here: use a plain object instead",
            );
        }
    }

    fn visit_ts_external_module_declaration(&mut self, it: &TSExternalModuleDeclaration<'a>) {
        self.blank_statement(it.span);
    }

    fn visit_ts_global_declaration(&mut self, it: &TSGlobalDeclaration<'a>) {
        self.blank_statement(it.span);
    }

    fn visit_ts_import_equals_declaration(&mut self, it: &TSImportEqualsDeclaration<'a>) {
        self.refuse(
            it.span,
            "imports are not available here: everything the code can use is global",
        );
    }

    fn visit_ts_export_assignment(&mut self, it: &TSExportAssignment<'a>) {
        self.refuse(
            it.span,
            "exports are not supported here: return the value instead",
        );
    }

    fn visit_ts_namespace_export_declaration(&mut self, it: &TSNamespaceExportDeclaration<'a>) {
        self.refuse(
            it.span,
            "exports are not supported here: return the value instead",
        );
    }

    fn visit_variable_declaration(&mut self, it: &VariableDeclaration<'a>) {
        if it.declare {
            self.blank_statement(it.span);
        } else {
            walk::walk_variable_declaration(self, it);
        }
    }

    fn visit_variable_declarator(&mut self, it: &VariableDeclarator<'a>) {
        if it.definite {
            let end = it
                .type_annotation
                .as_ref()
                .map_or(it.span.end, |annotation| annotation.span.start);
            self.blank_mark('!', it.id.span().end, end);
        }
        walk::walk_variable_declarator(self, it);
    }

    fn visit_function(&mut self, it: &Function<'a>, flags: ScopeFlags) {
        if it.declare || it.body.is_none() {
            self.blank_statement(it.span);
        } else {
            walk::walk_function(self, it, flags);
        }
    }

    fn visit_ts_this_parameter(&mut self, it: &TSThisParameter<'a>) {
        let end = self.through_comma(it.span.end);
        self.blank(it.span.start, end);
    }

    fn visit_formal_parameter(&mut self, it: &FormalParameter<'a>) {
        if it.accessibility.is_some() || it.readonly || it.r#override {
            self.refuse(
                it.span,
                "TypeScript parameter properties are not supported here: assign the field in the constructor body",
            );
            return;
        }
        if it.optional {
            let end = it
                .type_annotation
                .as_ref()
                .map_or(it.span.end, |annotation| annotation.span.start);
            self.blank_mark('?', it.pattern.span().end, end);
        }
        walk::walk_formal_parameter(self, it);
    }

    fn visit_class(&mut self, it: &Class<'a>) {
        if it.declare {
            self.blank_statement(it.span);
            return;
        }
        if it.r#abstract {
            let head_end = it
                .id
                .as_ref()
                .map_or(it.body.span.start, |id| id.span.start);
            self.blank_modifiers(Self::after_decorators(it.span, &it.decorators), head_end);
        }
        if let (Some(first), Some(last)) = (it.implements.first(), it.implements.last()) {
            let head = self
                .source
                .get(it.span.start as usize..first.span.start as usize)
                .unwrap_or("");
            if let Some(keyword) = head.rfind("implements") {
                let keyword = it.span.start + u32::try_from(keyword).unwrap_or(0);
                self.blank(keyword, last.span.end);
            }
        }
        walk::walk_class(self, it);
    }

    fn visit_class_element(&mut self, it: &ClassElement<'a>) {
        if let ClassElement::TSIndexSignature(signature) = it {
            self.blank_statement(signature.span);
        } else {
            walk::walk_class_element(self, it);
        }
    }

    fn visit_property_definition(&mut self, it: &PropertyDefinition<'a>) {
        if it.declare || it.r#type == PropertyDefinitionType::TSAbstractPropertyDefinition {
            self.blank_statement(it.span);
            return;
        }
        self.blank_modifiers(
            Self::after_decorators(it.span, &it.decorators),
            key_start(&it.key),
        );
        let end = it
            .type_annotation
            .as_ref()
            .map(|annotation| annotation.span.start)
            .or_else(|| it.value.as_ref().map(|value| value.span().start))
            .unwrap_or(it.span.end);
        if it.optional {
            self.blank_mark('?', it.key.span().end, end);
        }
        if it.definite {
            self.blank_mark('!', it.key.span().end, end);
        }
        walk::walk_property_definition(self, it);
    }

    fn visit_method_definition(&mut self, it: &MethodDefinition<'a>) {
        if it.r#type == MethodDefinitionType::TSAbstractMethodDefinition || it.value.body.is_none()
        {
            self.blank_statement(it.span);
            return;
        }
        self.blank_modifiers(
            Self::after_decorators(it.span, &it.decorators),
            key_start(&it.key),
        );
        if it.optional {
            self.blank_mark('?', it.key.span().end, it.value.span.start);
        }
        walk::walk_method_definition(self, it);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(script: &str) -> String {
        match strip(script) {
            Stripped::Code(text) => text,
            other => panic!("expected a script, got {other:?}"),
        }
    }

    #[test]
    fn annotations_and_generics_become_spaces() {
        let script = "async (id: string, n?: number): Promise<Array<T>> => f<T>(id as any)!";
        let out = stripped(script);
        assert_eq!(out.len(), script.len());
        assert_eq!(
            out,
            "async (id        , n         )                    => f   (id       ) "
        );
    }

    #[test]
    fn declarations_become_empty_statements_and_keep_lines() {
        let code = "{\ninterface A {\n  x: number\n}\ntype B = A\nconst a = 1 satisfies B\n}";
        assert_eq!(
            stripped(code),
            "{\n;            \n           \n \n;         \nconst a = 1            \n}"
        );
    }

    #[test]
    fn declarations_ahead_of_any_code_leave_no_semicolon() {
        let code = "// types\ntype A = number;\nasync (): Promise<A> => 1";
        assert_eq!(
            stripped(code),
            "// types\n                \nasync ()             => 1"
        );
    }

    #[test]
    fn bare_bodies_with_return_and_await_are_accepted() {
        assert_eq!(
            stripped("const a: number = await f();\nreturn a;"),
            "const a         = await f();\nreturn a;"
        );
    }

    #[test]
    fn class_modifiers_and_members_are_blanked() {
        let script = "class C implements I { private readonly x?: number = 1; declare y: string; static m<T>(this: C, a: T): T { return a } }";
        let out = stripped(script);
        assert_eq!(
            out,
            "class C              {                  x          = 1; ;                  static m   (         a   )    { return a } }"
        );
    }

    #[test]
    fn code_generating_syntax_is_refused_with_its_position() {
        assert_eq!(
            strip("let a = 1;\nenum E { A }"),
            Stripped::Unsupported {
                offset: 11,
                message: "TypeScript enums are not supported here: use a plain object instead"
                    .into()
            }
        );
        assert!(matches!(
            strip("class C { constructor(private x: number) {} }"),
            Stripped::Unsupported { .. }
        ));
    }

    #[test]
    fn plain_or_broken_code_is_not_typescript() {
        assert_eq!(
            strip("const a = [1, 2].map((x) => x * 2)"),
            Stripped::NotTypeScript
        );
        assert_eq!(strip("const = ;"), Stripped::NotTypeScript);
    }
}
