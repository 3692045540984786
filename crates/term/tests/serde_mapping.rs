//! The serde mapping, as documented in `nodus_term::serde`.

use std::collections::BTreeMap;

use nodus_term::{from_term, text, to_term, Atom, Term};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Event {
    Joined,
    Left(String),
    Moved(i32, i32),
    Said { text: String, at: u64 },
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct User {
    name: String,
    age: u8,
    admin: bool,
    email: Option<String>,
    tags: Vec<String>,
    scores: BTreeMap<String, f64>,
    #[serde(with = "bytes_as_binary")]
    avatar: Vec<u8>,
    pair: (i64, char),
    events: Vec<Event>,
    extra: Term,
}

mod bytes_as_binary {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> Result<Vec<u8>, E> {
                Ok(b.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, b: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(b)
            }
        }
        d.deserialize_bytes(V)
    }
}

fn user() -> User {
    User {
        name: "Ada".into(),
        age: 36,
        admin: true,
        email: None,
        tags: vec!["a".into(), "b".into()],
        scores: BTreeMap::from([("x".into(), 1.5)]),
        avatar: vec![0, 255],
        pair: (-7, 'λ'),
        events: vec![
            Event::Joined,
            Event::Left("bye".into()),
            Event::Moved(1, -2),
            Event::Said {
                text: "hi".into(),
                at: 5,
            },
        ],
        extra: text::parse_term("{raw, #Pid<'n1@h'.1.2.3>}").unwrap(),
    }
}

#[test]
fn structs_become_maps_with_atom_keys() {
    let t = to_term(&user()).unwrap();
    assert_eq!(
        t.to_string(),
        "#{admin => true,age => 36,avatar => <<0,255>>,email => nil,\
events => [joined,{left,<<\"bye\">>},{moved,1,-2},{said,#{at => 5,text => <<\"hi\">>}}],\
extra => {raw,#Pid<'n1@h'.1.2.3>},name => <<\"Ada\">>,pair => {-7,955},\
scores => #{<<\"x\">> => 1.5},tags => [<<\"a\">>,<<\"b\">>]}"
    );
    let back: User = from_term(&t).unwrap();
    assert_eq!(back, user());
}

#[test]
fn reading_is_lenient_where_erlang_is_ambiguous() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Conf {
        name: String,
        list: Vec<u32>,
        opt: Option<u32>,
    }
    let t =
        text::parse_term("#{name => 'atom_name', list => {1, 2}, opt => undefined, unknown => 1}")
            .unwrap();
    let c: Conf = from_term(&t).unwrap();
    assert_eq!(
        c,
        Conf {
            name: "atom_name".into(),
            list: vec![1, 2],
            opt: None
        }
    );
    let t = text::parse_term("#{name => \"charlist\", list => [], opt => 3}").unwrap();
    let c: Conf = from_term(&t).unwrap();
    assert_eq!(c.name, "charlist");
    assert_eq!(c.opt, Some(3));
}

#[test]
fn elixir_structs_map_to_rust_structs() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct ElixirUser {
        #[serde(rename = "__struct__")]
        r#struct: Atom,
        name: String,
    }
    let t = text::parse_term("#{'__struct__' => 'Elixir.MyApp.User', name => <<\"x\">>}").unwrap();
    let u: ElixirUser = from_term(&t).unwrap();
    assert_eq!(u.r#struct, Atom::new("Elixir.MyApp.User"));
    assert_eq!(to_term(&u).unwrap(), t);
}

#[test]
fn type_errors_say_what_was_found() {
    let t = text::parse_term("#{name => 5}").unwrap();
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct S {
        name: String,
    }
    let e = from_term::<S>(&t).unwrap_err();
    assert!(e.to_string().contains("expected a string, found 5"), "{e}");
    assert!(to_term(&f64::NAN).is_err());
    assert!(from_term::<u8>(&Term::Int(300)).is_err());
}

#[test]
fn rust_result_is_ok_or_error_tuple() {
    let ok: Result<i64, String> = Ok(5);
    let err: Result<i64, String> = Err("bad".into());
    assert_eq!(to_term(&ok).unwrap().to_string(), "{ok,5}");
    assert_eq!(to_term(&err).unwrap().to_string(), "{error,<<\"bad\">>}");
    let back: Result<i64, String> =
        from_term(&text::parse_term("{error, <<\"x\">>}").unwrap()).unwrap();
    assert_eq!(back, Err("x".to_string()));
    let back: Result<i64, String> = from_term(&text::parse_term("{ok, 7}").unwrap()).unwrap();
    assert_eq!(back, Ok(7));
    assert!(from_term::<Result<i64, String>>(&text::parse_term("{perhaps, 7}").unwrap()).is_err());
}

#[test]
fn keyword_lists_read_into_structs() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Opts {
        pool_size: i64,
        name: String,
    }
    let t = text::parse_term("[{pool_size, 4}, {name, <<\"pubsub\">>}]").unwrap();
    assert_eq!(
        from_term::<Opts>(&t).unwrap(),
        Opts {
            pool_size: 4,
            name: "pubsub".into()
        }
    );
}

#[test]
fn terms_from_rust_values_and_readable_debug() {
    use nodus_term::atom;
    let t = Term::from((atom("ok"), 1i64, "text", true, vec![1i64, 2]));
    assert_eq!(t.to_string(), "{ok,1,<<\"text\">>,true,[1,2]}");
    assert_eq!(format!("{t:?}"), t.to_string());
    assert!(Term::try_atom(&"a".repeat(256)).is_err());
    assert!(Term::try_atom(&"a".repeat(255)).is_ok());
}
