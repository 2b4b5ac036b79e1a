//! OAuth applications registered by users (client secret hashed).
