//! Users' own OAuth app credentials per provider (client secret encrypted).
