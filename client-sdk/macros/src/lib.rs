//! `#[northstar::trace]` and `#[northstar::observe]`: see the `northstar` crate's docs.
//!
//! Both work on sync and async functions and methods. Options, comma-separated:
//! `name = "…"` (default: the function's name), `skip(arg, …)` (arguments not captured; every
//! other argument must implement `serde::Serialize`), `skip_output` (do not capture the return
//! value; it then need not be serializable, and `Err` still marks the failure), and for
//! `observe` only, `kind = "tool" | "agent" | "workflow" | "model" | "custom"` (default `tool`).

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{ToTokens, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, FnArg, Ident, ItemFn, Lit, LitStr, Meta, Pat, ReturnType, Token, Type};

/// Records each call of the function as a NorthStar run: arguments as `user_input`, the return
/// value as `final_response`, `Err` or a panic as the run's error.
#[proc_macro_attribute]
pub fn trace(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Which::Trace, args.into(), item.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Records each call of the function as a span of the current run (a `tool` span unless
/// `kind` says otherwise): arguments as `tool_arguments`, the return value as `tool_result`,
/// `Err` or a panic as the span's error. Outside a run it records nothing.
#[proc_macro_attribute]
pub fn observe(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Which::Observe, args.into(), item.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Trace,
    Observe,
}

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    kind: Option<LitStr>,
    skip: Vec<Ident>,
    skip_output: bool,
}

const KINDS: [&str; 5] = ["agent", "workflow", "model", "tool", "custom"];

fn string_value(value: &Expr) -> syn::Result<LitStr> {
    match value {
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Ok(s.clone()),
        other => Err(syn::Error::new_spanned(other, "expected a string literal")),
    }
}

fn parse_options(which: Which, args: Tokens) -> syn::Result<Options> {
    let mut options = Options::default();
    for meta in Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)? {
        match &meta {
            Meta::NameValue(nv) if nv.path.is_ident("name") => options.name = Some(string_value(&nv.value)?),
            Meta::NameValue(nv) if nv.path.is_ident("kind") && which == Which::Observe => {
                let kind = string_value(&nv.value)?;
                if !KINDS.contains(&kind.value().as_str()) {
                    return Err(syn::Error::new_spanned(
                        kind,
                        "kind must be one of: agent, workflow, model, tool, custom",
                    ));
                }
                options.kind = Some(kind);
            }
            Meta::List(list) if list.path.is_ident("skip") => {
                options.skip =
                    Punctuated::<Ident, Token![,]>::parse_terminated.parse2(list.tokens.clone())?.into_iter().collect();
            }
            Meta::Path(p) if p.is_ident("skip_output") => options.skip_output = true,
            other => {
                let expected = if which == Which::Observe {
                    "expected `name = \"…\"`, `kind = \"…\"`, `skip(…)` or `skip_output`"
                } else {
                    "expected `name = \"…\"`, `skip(…)` or `skip_output`"
                };
                return Err(syn::Error::new_spanned(other, expected));
            }
        }
    }
    Ok(options)
}

fn contains_impl_trait(ty: &Type) -> bool {
    ty.to_token_stream().into_iter().any(|t| matches!(t, proc_macro2::TokenTree::Ident(i) if i == "impl"))
}

fn expand(which: Which, args: Tokens, item: Tokens) -> syn::Result<Tokens> {
    let options = parse_options(which, args)?;
    let ItemFn { attrs, vis, sig, block } = syn::parse2::<ItemFn>(item)?;
    if sig.constness.is_some() || sig.unsafety.is_some() {
        return Err(syn::Error::new_spanned(&sig, "northstar attributes do not support const or unsafe functions"));
    }
    let name = options.name.clone().unwrap_or_else(|| LitStr::new(&sig.ident.to_string(), sig.ident.span()));

    for skipped in &options.skip {
        let known = sig
            .inputs
            .iter()
            .any(|a| matches!(a, FnArg::Typed(t) if matches!(&*t.pat, Pat::Ident(p) if p.ident == *skipped)));
        if !known {
            return Err(syn::Error::new_spanned(skipped, "no argument with this name"));
        }
    }
    let captured: Vec<&Ident> = sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(p) if !options.skip.contains(&p.ident) => Some(&p.ident),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect();
    let keys: Vec<String> = captured.iter().map(|i| i.to_string().trim_start_matches("r#").to_owned()).collect();
    let args_closure = quote! {
        || ::northstar::__private::args(::std::vec![
            #( (#keys, ::northstar::__private::to_value(&#captured)) ),*
        ])
    };

    let ret_ty: Option<Tokens> = match &sig.output {
        ReturnType::Default => Some(quote!(())),
        ReturnType::Type(_, ty) if !contains_impl_trait(ty) => Some(ty.to_token_stream()),
        ReturnType::Type(..) => None,
    };
    let outcome = if options.skip_output {
        quote! {{
            #[allow(unused_imports)]
            use ::northstar::__private::{ViaAnything as _, ViaResultError as _};
            (&__northstar_ret).__northstar_error()
        }}
    } else {
        let captures = match which {
            Which::Trace => quote!(::northstar::__private::run_captures_output(&__northstar_handle)),
            Which::Observe => quote!(::northstar::__private::span_captures_output(&__northstar_handle)),
        };
        quote! {{
            #[allow(unused_imports)]
            use ::northstar::__private::{ViaResult as _, ViaValue as _};
            (&__northstar_ret).__northstar_outcome(#captures)
        }}
    };
    // Look at the result only when recording: a disabled SDK must not even format an error.
    let records = match which {
        Which::Trace => quote!(::northstar::__private::run_records(&__northstar_handle)),
        Which::Observe => quote!(::northstar::__private::span_records(&__northstar_handle)),
    };
    let outcome = quote! {
        if #records { #outcome } else { ::northstar::__private::Outcome::Nothing }
    };
    let kind = options.kind.map_or_else(|| quote!("tool"), |k| k.to_token_stream());

    let body = if sig.asyncness.is_some() {
        let (start, finish) = match which {
            Which::Trace => (quote!(::northstar::__private::async_trace(#name, #args_closure)), quote!(finish_run)),
            Which::Observe => {
                (quote!(::northstar::__private::async_observe(#name, #kind, #args_closure)), quote!(finish_span))
            }
        };
        let annotation = ret_ty.map(|t| quote!(: #t));
        quote! {
            let (__northstar_handle, __northstar_context) = #start;
            let __northstar_ret #annotation =
                ::northstar::__private::FutureExt::in_context(async move #block, __northstar_context).await;
            let __northstar_outcome = #outcome;
            ::northstar::__private::#finish(__northstar_handle, __northstar_outcome);
            __northstar_ret
        }
    } else {
        let (start, finish) = match which {
            Which::Trace => (quote!(::northstar::__private::sync_trace(#name, #args_closure)), quote!(finish_trace)),
            Which::Observe => {
                (quote!(::northstar::__private::sync_observe(#name, #kind, #args_closure)), quote!(finish_observe))
            }
        };
        let annotation = ret_ty.map(|t| quote!(-> #t));
        quote! {
            let __northstar_handle = #start;
            #[allow(clippy::redundant_closure_call)]
            let __northstar_ret = (move || #annotation #block)();
            let __northstar_outcome = #outcome;
            ::northstar::__private::#finish(&__northstar_handle, __northstar_outcome);
            __northstar_ret
        }
    };

    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    })
}
