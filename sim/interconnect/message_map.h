// The fabric's message matching (sends delivered before their receive is posted, receives posted
// before their send arrived): a map keyed by (source vertex, destination vertex, tag) with open
// addressing in one array, instead of a node per entry (std::unordered_map: an allocation per insert
// and a cache miss per lookup; perf put its lookups at 12-15% of a DeepSeek-V3 serving unit on
// tpu-v6e-32). Only find, insert-or-assign and erase are offered; no iteration order is promised
// (`smallest` gives a deterministic entry for messages).
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace xpu {

struct MessageKey {
  int src = 0, dst = 0;
  std::uint32_t tag = 0;
  bool operator==(const MessageKey& o) const { return src == o.src && dst == o.dst && tag == o.tag; }
  bool operator<(const MessageKey& o) const {
    if (src != o.src) return src < o.src;
    if (dst != o.dst) return dst < o.dst;
    return tag < o.tag;
  }
};

template <class V>
class MessageMap {
 public:
  // The entry for `k`, or null.
  V* find(const MessageKey& k) {
    if (m_size == 0) return nullptr;
    for (std::size_t i = home(k);; i = (i + 1) & m_mask) {
      Slot& s = m_slots[i];
      if (!s.used) return nullptr;
      if (s.key == k) return &s.value;
    }
  }
  // Sets the entry for `k` (inserted or overwritten).
  void set(const MessageKey& k, const V& v) {
    if ((m_size + 1) * 2 > m_slots.size()) grow();
    for (std::size_t i = home(k);; i = (i + 1) & m_mask) {
      Slot& s = m_slots[i];
      if (!s.used) {
        s.used = true;
        s.key = k;
        s.value = v;
        ++m_size;
        return;
      }
      if (s.key == k) {
        s.value = v;
        return;
      }
    }
  }
  // Removes the entry that `find` returned (backward-shift deletion: no tombstones).
  void erase(V* entry) {
    std::size_t i = static_cast<std::size_t>(reinterpret_cast<const char*>(entry) - reinterpret_cast<const char*>(m_slots.data())) /
                    sizeof(Slot);
    m_slots[i].used = false;
    --m_size;
    for (std::size_t j = (i + 1) & m_mask; m_slots[j].used; j = (j + 1) & m_mask) {
      const std::size_t h = home(m_slots[j].key);
      // Slot j may move into the hole at i unless its home lies cyclically in (i, j].
      const bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
      if (stays) continue;
      m_slots[i] = m_slots[j];
      m_slots[j].used = false;
      i = j;
    }
  }
  bool empty() const { return m_size == 0; }
  std::size_t size() const { return m_size; }
  // The entry of the smallest key (the map must not be empty).
  std::pair<MessageKey, V> smallest() const {
    const Slot* best = nullptr;
    for (const Slot& s : m_slots)
      if (s.used && (!best || s.key < best->key)) best = &s;
    return {best->key, best->value};
  }

 private:
  struct Slot {
    MessageKey key;
    bool used = false;
    V value{};
  };
  std::size_t home(const MessageKey& k) const {
    std::uint64_t h = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(k.src)) << 32) | static_cast<std::uint32_t>(k.dst);
    h = (h ^ (static_cast<std::uint64_t>(k.tag) * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    return static_cast<std::size_t>(h ^ (h >> 29)) & m_mask;
  }
  void grow() {
    std::vector<Slot> old = std::move(m_slots);
    m_slots.assign(old.empty() ? 64 : old.size() * 2, Slot{});
    m_mask = m_slots.size() - 1;
    m_size = 0;
    for (const Slot& s : old)
      if (s.used) set(s.key, s.value);
  }
  std::vector<Slot> m_slots;
  std::size_t m_mask = 0;
  std::size_t m_size = 0;
};

}  // namespace xpu
