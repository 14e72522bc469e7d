mod array;
mod include_tag;
mod slugify;

pub use self::array::*;
pub use self::include_tag::*;
pub use self::slugify::*;
