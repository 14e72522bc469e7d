mod pluralize;

pub use self::pluralize::*;
