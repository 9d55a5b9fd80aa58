//! `#[api_test]`: a test of the `api` binary (tests/api), registered with
//! the binary's own harness (tests/api/main.rs) in place of libtest's
//! `#[test]`, so that the harness can mark it ignored, when the tests run,
//! where the machine lacks what it needs.
//!
//! ```text
//! #[api_test]
//! fn a_plain_test() { ... }
//!
//! #[api_test]                       // a current_thread tokio runtime
//! async fn an_async_test() { ... }
//!
//! #[api_test(flavor = "multi_thread", worker_threads = 4, needs = "postgres")]
//! async fn on_postgresql() { ... }
//!
//! #[api_test(needs = "fuse, postgres")]
//! fn on_a_power_cut_disk() { ... }
//! ```
//!
//! `flavor` and `worker_threads` are those of `#[tokio::test]`, and build
//! the same runtime; `needs` names what the test cannot run without
//! (`postgres`, `fuse`, `failpoints`), for the harness to mark it ignored
//! where that is missing (never under CI=true, except `failpoints`, a build
//! choice); `ignore = "why"` marks it ignored always. The test is named as
//! libtest would name it: its module path in the binary, then its own name
//! (`bookings::two_users_race::sled`).
//!
//! The expansion names, in the crate that uses it,
//! `crate::helpers::registry::{ApiTest, API_TESTS}` (the registry, a
//! `linkme` distributed slice) and `crate::helpers::environment::Need`.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::meta::ParseNestedMeta;
use syn::{parse_macro_input, ItemFn, LitInt, LitStr, ReturnType};

/// What the attribute's arguments say.
#[derive(Default)]
struct Options {
    /// `flavor = "multi_thread"` (true) or `"current_thread"` (false).
    multi_thread: Option<bool>,
    worker_threads: Option<LitInt>,
    /// `needs = "postgres"`, `needs = "fuse, postgres"`: the variants of
    /// `Need`.
    needs: Vec<Tokens>,
    ignore: Option<LitStr>,
}

impl Options {
    fn parse(&mut self, meta: ParseNestedMeta) -> syn::Result<()> {
        if meta.path.is_ident("flavor") {
            let flavor: LitStr = meta.value()?.parse()?;
            self.multi_thread = Some(match flavor.value().as_str() {
                "multi_thread" => true,
                "current_thread" => false,
                _ => {
                    return Err(syn::Error::new(
                        flavor.span(),
                        "flavor is \"current_thread\" or \"multi_thread\"",
                    ))
                }
            });
        } else if meta.path.is_ident("worker_threads") {
            self.worker_threads = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("needs") {
            let needs: LitStr = meta.value()?.parse()?;
            for need in needs.value().split(',').map(str::trim) {
                self.needs.push(match need {
                    "postgres" => quote!(Postgres),
                    "fuse" => quote!(Fuse),
                    "failpoints" => quote!(Failpoints),
                    _ => {
                        return Err(syn::Error::new(
                            needs.span(),
                            format!(
                                "needs names \"postgres\", \"fuse\" or \"failpoints\" \
                                 (comma separated), not {need:?}"
                            ),
                        ))
                    }
                });
            }
        } else if meta.path.is_ident("ignore") {
            self.ignore = Some(meta.value()?.parse()?);
        } else {
            return Err(meta.error(
                "api_test takes flavor, worker_threads, needs and ignore (each `name = value`)",
            ));
        }
        Ok(())
    }
}

/// Registers the function it is on as a test of the `api` binary.
#[proc_macro_attribute]
pub fn api_test(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| options.parse(meta));
    parse_macro_input!(args with parser);
    let function = parse_macro_input!(item as ItemFn);
    expand(options, function)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand(options: Options, mut function: ItemFn) -> syn::Result<Tokens> {
    let sig = &mut function.sig;
    if !sig.inputs.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.inputs,
            "a test takes no arguments",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a test is not generic",
        ));
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        return Err(syn::Error::new_spanned(
            ty,
            "a test returns nothing: it fails by panicking",
        ));
    }
    if sig.asyncness.take().is_some() {
        let builder = match (options.multi_thread, &options.worker_threads) {
            (Some(true), Some(n)) => quote!(new_multi_thread().worker_threads(#n)),
            (Some(true), None) => quote!(new_multi_thread()),
            (_, Some(n)) => {
                return Err(syn::Error::new_spanned(
                    n,
                    "worker_threads needs flavor = \"multi_thread\"",
                ))
            }
            (_, None) => quote!(new_current_thread()),
        };
        let block = &function.block;
        *function.block = syn::parse_quote! {{
            let body = async move #block;
            ::tokio::runtime::Builder::#builder
                .enable_all()
                .build()
                .expect("build the test's tokio runtime")
                .block_on(body)
        }};
    } else if options.multi_thread.is_some() || options.worker_threads.is_some() {
        return Err(syn::Error::new_spanned(
            &sig.ident,
            "flavor and worker_threads are for an async test",
        ));
    }
    let name = &function.sig.ident;
    let name_text = name.to_string();
    let needs = options.needs.iter();
    let ignore = match &options.ignore {
        Some(reason) => quote!(::core::option::Option::Some(#reason)),
        None => quote!(::core::option::Option::None),
    };
    Ok(quote! {
        #function

        const _: () = {
            #[::linkme::distributed_slice(crate::helpers::registry::API_TESTS)]
            static TEST: crate::helpers::registry::ApiTest = crate::helpers::registry::ApiTest {
                module: ::core::module_path!(),
                name: #name_text,
                needs: &[#(crate::helpers::environment::Need::#needs),*],
                ignore: #ignore,
                run: #name,
            };
        };
    })
}
