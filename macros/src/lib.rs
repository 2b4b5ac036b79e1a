//! `#[metered]`: the attribute on every public method of a pierre-db
//! repository. It hands the method's body to the crate's `metered_body!` macro
//! under the method's own name, so that the name a call is recorded under
//! cannot drift from the method's. Whether anything is recorded is the
//! crate's `metrics` feature, decided by `metered_body!`, not here.

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, TokenStream, TokenTree};

/// Wraps the body of the `fn` it is put on in `metered_body!("name", { body })`.
///
/// Anything other than a function with a body is a compile error.
#[proc_macro_attribute]
pub fn metered(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        return error("#[metered] takes no arguments");
    }
    let mut tokens: Vec<TokenTree> = item.into_iter().collect();
    let name = tokens.windows(2).find_map(|pair| match pair {
        [TokenTree::Ident(keyword), TokenTree::Ident(name)] if keyword.to_string() == "fn" => {
            Some(name.to_string())
        }
        _ => None,
    });
    let body = match tokens.pop() {
        Some(TokenTree::Group(body)) if body.delimiter() == Delimiter::Brace => body,
        _ => return error("#[metered] goes on a method with a body"),
    };
    let Some(name) = name else {
        return error("#[metered] goes on a method with a body");
    };
    let span = body.span();
    let call: TokenStream = [
        TokenTree::Ident(Ident::new("metered_body", span)),
        TokenTree::Punct(Punct::new('!', Spacing::Alone)),
        TokenTree::Group(Group::new(
            Delimiter::Parenthesis,
            [
                TokenTree::Literal(Literal::string(&name)),
                TokenTree::Punct(Punct::new(',', Spacing::Alone)),
                TokenTree::Group(body),
            ]
            .into_iter()
            .collect(),
        )),
    ]
    .into_iter()
    .collect();
    let mut wrapped = Group::new(Delimiter::Brace, call);
    wrapped.set_span(span);
    tokens.push(TokenTree::Group(wrapped));
    tokens.into_iter().collect()
}

/// `compile_error!("message")`.
fn error(message: &str) -> TokenStream {
    [
        TokenTree::Ident(Ident::new("compile_error", proc_macro::Span::call_site())),
        TokenTree::Punct(Punct::new('!', Spacing::Alone)),
        TokenTree::Group(Group::new(
            Delimiter::Parenthesis,
            TokenTree::Literal(Literal::string(message)).into(),
        )),
    ]
    .into_iter()
    .collect()
}
