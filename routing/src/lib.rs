//! Exchange routing: direct, fanout, topic (trie), headers; exchange-to-exchange bindings
