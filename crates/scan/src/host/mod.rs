//! `stockade host`: facts about this node (kernel, LSMs, sysctls, engines, node configuration) and verdicts against the curated escape database.
