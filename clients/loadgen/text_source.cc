#include "clients/loadgen/text_source.h"

#include <algorithm>

namespace maskserve {
namespace loadgen {
namespace {

const char* const kWords[] = {
    "the",     "movie",    "was",     "a",         "great",    "story",   "with",    "some",
    "really",  "bad",      "acting",  "and",       "good",     "music",   "i",       "loved",
    "it",      "hated",    "plot",    "ending",    "film",     "book",    "news",    "today",
    "world",   "people",   "time",    "year",      "way",      "day",     "man",     "woman",
    "thing",   "life",     "child",   "school",    "family",   "student", "group",   "country",
    "problem", "hand",     "part",    "place",     "case",     "week",    "company", "system",
    "program", "question", "work",    "number",    "night",    "point",   "home",    "water",
    "room",    "mother",   "area",    "money",     "fact",     "month",   "lot",     "right",
    "study",   "job",      "word",    "business",  "issue",    "side",    "kind",    "head",
    "house",   "service",  "friend",  "father",    "power",    "hour",    "game",    "line",
    "end",     "member",   "law",     "car",       "city",     "name",    "team",    "minute",
    "idea",    "kid",      "body",    "back",      "parent",   "face",    "others",  "level",
    "office",  "door",     "health",  "person",    "art",      "war",     "history", "party",
    "result",  "change",   "morning", "reason",    "research", "girl",    "guy",     "moment",
    "air",     "teacher",  "force",   "education", "funny",    "boring",  "amazing", "terrible",
    "not",     "very",     "never",   "always",    "quite",    "too",     "much",    "new",
};

}  // namespace

std::string RandomText(std::mt19937_64& rng, int words) {
  constexpr int kCount = sizeof(kWords) / sizeof(kWords[0]);
  std::uniform_int_distribution<int> pick(0, kCount - 1);
  std::string text;
  for (int i = 0; i < std::max(1, words); ++i) {
    if (i > 0) text.push_back(' ');
    text += kWords[pick(rng)];
  }
  return text;
}

}  // namespace loadgen
}  // namespace maskserve
