// File: clients/loadgen/text_source.h
//
// Synthetic input texts for load generation: `words` words drawn uniformly
// from a fixed list of common English words (so that the tokenizer sees
// realistic word pieces, and the token count per text is predictable).
//
// Thread safety: pure function; pass each thread its own generator.
#ifndef MASKSERVE_CLIENTS_LOADGEN_TEXT_SOURCE_H_
#define MASKSERVE_CLIENTS_LOADGEN_TEXT_SOURCE_H_

#include <random>
#include <string>

namespace maskserve {
namespace loadgen {

// A text of `words` (>= 1) space-separated words.
std::string RandomText(std::mt19937_64& rng, int words);

}  // namespace loadgen
}  // namespace maskserve

#endif  // MASKSERVE_CLIENTS_LOADGEN_TEXT_SOURCE_H_
