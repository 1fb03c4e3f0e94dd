// SPDX-License-Identifier: MIT
/*
 * shmk.hpp: a header-only C++17 wrapper of libshmk (shmk.h, shmk_msg.h).
 *
 * What it adds to the C API, and nothing else:
 *  - RAII handles: shmk::arena (detaches), shmk::server / shmk::client
 *    (close the session), shmk::buffer (drops its reference),
 *    shmk::queue (closes), shmk::lock_holder (releases). All move-only.
 *    A destructor never throws: it ignores the C call's error; call
 *    close() / detach() / release() yourself to see it.
 *  - shmk::span<T>: a pointer and a length (C++17 has no std::span),
 *    over arena memory, never a copy.
 *  - timeouts as std::chrono durations: shmk::forever (wait for ever),
 *    shmk::no_wait, or any duration (1s, 250ms...).
 *  - errors as exceptions: a failing call throws shmk::error, a
 *    std::system_error whose code() is the errno (generic category) and
 *    whose reason() is the library's own words (shmk_session_error(),
 *    shmk_arena_error()) when the call gives some.
 *    The outcomes a waiting call exists to report are return values, not
 *    exceptions: recv() with nothing before the timeout (or interrupted
 *    by a signal) returns std::nullopt, a send to a full queue returns
 *    false, an acquire that times out returns std::nullopt.
 *
 * The C names stay available (the C headers are included), so options
 * structs are the C ones (shmk_server_opts...), zero-initialised with {}.
 * Handles follow the C rules: one thread at a time per session, never
 * used by a forked child.
 */
#ifndef SHMK_HPP
#define SHMK_HPP

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "shmk.h"
#include "shmk_msg.h"

namespace shmk {

// ---------------------------------------------------------------- errors

/*
 * A failed libshmk call. code().value() / errno_value(): the positive
 * errno; reason(): the library's explanation ("" if it gave none);
 * what(): "<call>: <strerror>[: <reason>]".
 */
class error : public std::system_error {
public:
	error(int neg_errno, const char *call, std::string reason = {})
		: std::system_error(-neg_errno, std::generic_category()),
		  reason_(std::move(reason)), call_(call ? call : "shmk")
	{
		what_ = call_ + ": " + code().message();
		if (!reason_.empty())
			what_ += ": " + reason_;
	}
	const char *what() const noexcept override { return what_.c_str(); }
	int errno_value() const noexcept { return code().value(); }
	const std::string &reason() const noexcept { return reason_; }
	const std::string &call() const noexcept { return call_; }

private:
	std::string reason_;
	std::string call_;
	std::string what_;
};

namespace detail {
inline std::string str(const char *s) { return s ? std::string(s) : std::string(); }

[[noreturn]] inline void fail(int r, const char *call, const char *reason = nullptr)
{
	throw error(r, call, str(reason));
}

inline int check(int r, const char *call, const char *reason = nullptr)
{
	if (r < 0)
		fail(r, call, reason);
	return r;
}
} // namespace detail

// ---------------------------------------------------------------- time

using timeout = std::chrono::nanoseconds;
inline constexpr timeout forever{-1};
inline constexpr timeout no_wait{0};

namespace detail {
inline int64_t ns(timeout t) { return t.count() < 0 ? -1 : (int64_t)t.count(); }
} // namespace detail

// ---------------------------------------------------------------- span

/*
 * A view of @size elements at @data, in the arena or anywhere: no copy,
 * no ownership. It is valid as long as what it views is (a buffer's data
 * until the buffer is dropped, passed or written to again).
 */
template <class T> class span {
public:
	using element_type = T;
	using value_type = std::remove_cv_t<T>;
	using size_type = std::size_t;
	using iterator = T *;

	constexpr span() noexcept = default;
	constexpr span(T *data, std::size_t size) noexcept : data_(data), size_(size) {}
	template <class U, class = std::enable_if_t<std::is_convertible_v<U (*)[], T (*)[]>>>
	constexpr span(const span<U> &o) noexcept : data_(o.data()), size_(o.size()) {}

	constexpr T *data() const noexcept { return data_; }
	constexpr std::size_t size() const noexcept { return size_; }
	constexpr std::size_t size_bytes() const noexcept { return size_ * sizeof(T); }
	constexpr bool empty() const noexcept { return size_ == 0; }
	constexpr T *begin() const noexcept { return data_; }
	constexpr T *end() const noexcept { return data_ + size_; }
	constexpr T &operator[](std::size_t i) const noexcept { return data_[i]; }
	// Elements [off, off + n) (n clipped to what is there).
	constexpr span subspan(std::size_t off, std::size_t n = ~std::size_t(0)) const noexcept
	{
		if (off > size_)
			off = size_;
		if (n > size_ - off)
			n = size_ - off;
		return span(data_ + off, n);
	}
	// The first sizeof(U) bytes seen as a U (nullptr if too short).
	template <class U> U *as() const noexcept
	{
		return size_bytes() >= sizeof(U) ? reinterpret_cast<U *>(data_) : nullptr;
	}

private:
	T *data_ = nullptr;
	std::size_t size_ = 0;
};

using bytes = span<std::byte>;
using const_bytes = span<const std::byte>;

// ---------------------------------------------------------------- arena

using arena_opts = ::shmk_arena_opts;
using arena_info = struct ::shmk_arena_info;
using event = ::shmk_event;		// membership event (type, how, member_id...)
using alloc_stats = struct ::shmk_alloc_stats;
using ref_t = ::shmk_ref_t;

/* What shmk_arena_wait() ended with (real errors throw). */
enum class wait_result {
	woken,		// 0: woken by a wake
	event,		// a membership event is pending: read events()
	changed,	// the word did not hold the expected value
	timed_out,
	interrupted,	// a signal
};

class lock_holder;

/*
 * A handle on an arena that does not own it: what a session lends
 * (session::arena()), and the base of the owning shmk::arena. Every
 * operation of shmk.h on an arena, as a member function.
 */
class arena_view {
public:
	arena_view() noexcept = default;
	explicit arena_view(::shmk_arena *a) noexcept : a_(a) {}

	::shmk_arena *get() const noexcept { return a_; }
	explicit operator bool() const noexcept { return a_ != nullptr; }

	arena_info info() const
	{
		arena_info i{};
		detail::check(::shmk_arena_info(a_, &i), "shmk_arena_info");
		return i;
	}
	// Where offset @off is mapped here (nullptr outside the user region).
	template <class T = void> T *ptr(uint64_t off) const noexcept
	{
		return static_cast<T *>(::shmk_arena_ptr(a_, off));
	}
	uint64_t off(const void *p) const noexcept { return ::shmk_arena_off(a_, p); }
	// @len bytes at @off; throws -ERANGE unless all of them are in the region.
	bytes at(uint64_t off, std::size_t len) const
	{
		arena_info i = info();
		if (off > i.size || len > i.size - off)
			detail::fail(-ERANGE, "shmk::arena_view::at");
		return bytes(static_cast<std::byte *>(i.base) + off, len);
	}
	// The 32-bit word at @off (4-byte aligned) as an atomic, for wait/wake.
	std::atomic<uint32_t> &word(uint64_t off) const
	{
		static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
			      std::atomic<uint32_t>::is_always_lock_free,
			      "std::atomic<uint32_t> must be a plain lock-free word");
		void *p = ptr(off);
		if (!p || (off & 3))
			detail::fail(-EINVAL, "shmk::arena_view::word");
		return *static_cast<std::atomic<uint32_t> *>(p);
	}
	uint64_t root(unsigned idx) const
	{
		uint64_t o = 0;
		detail::check(::shmk_arena_root(a_, idx, &o), "shmk_arena_root",
			      ::shmk_arena_error(a_));
		return o;
	}
	bool member_alive(uint32_t id, uint32_t gen) const
	{
		return detail::check(::shmk_arena_member_alive(a_, id, gen),
				     "shmk_arena_member_alive") == 1;
	}
	int event_fd() const noexcept { return ::shmk_arena_event_fd(a_); }
	// Pending membership events, at most @max (none: empty; never waits).
	std::vector<event> events(unsigned max = 64) const
	{
		std::vector<event> v(max);
		int n = detail::check(::shmk_arena_events(a_, v.data(), max),
				      "shmk_arena_events");
		v.resize((std::size_t)n);
		return v;
	}
	wait_result wait(uint64_t off, uint32_t expected, timeout t = forever,
			 unsigned flags = 0) const
	{
		int r = ::shmk_arena_wait(a_, off, expected, detail::ns(t), flags);
		switch (r) {
		case 0: return wait_result::woken;
		case SHMK_WAIT_EVENT: return wait_result::event;
		case -EAGAIN: return wait_result::changed;
		case -ETIMEDOUT: return wait_result::timed_out;
		case -EINTR: return wait_result::interrupted;
		}
		detail::fail(r < 0 ? r : -EPROTO, "shmk_arena_wait", ::shmk_arena_error(a_));
	}
	// Wakes up to @n waiters of @off; how many it woke.
	int wake(uint64_t off, uint32_t n = SHMK_WAKE_ALL) const
	{
		return detail::check(::shmk_arena_wake(a_, off, n), "shmk_arena_wake",
				     ::shmk_arena_error(a_));
	}

	/*
	 * A block of at least @size bytes; SHMK_ALLOC_WAIT in @flags waits up
	 * to @t for memory to be freed. Throws (ENOMEM, ETIMEDOUT...).
	 */
	uint64_t alloc(std::size_t size, unsigned flags = 0, timeout t = no_wait) const
	{
		uint64_t o = 0;
		detail::check(::shmk_alloc(a_, size, flags, detail::ns(t), &o), "shmk_alloc");
		return o;
	}
	// The same, std::nullopt instead of an exception when there is no
	// memory within the timeout (-ENOMEM, -ETIMEDOUT).
	std::optional<uint64_t> try_alloc(std::size_t size, unsigned flags = 0,
					  timeout t = no_wait) const
	{
		uint64_t o = 0;
		int r = ::shmk_alloc(a_, size, flags, detail::ns(t), &o);
		if (r == -ENOMEM || r == -ETIMEDOUT)
			return std::nullopt;
		detail::check(r, "shmk_alloc");
		return o;
	}
	void free(uint64_t off) const { detail::check(::shmk_free(a_, off), "shmk_free"); }
	uint64_t usable(uint64_t off) const
	{
		uint64_t b = 0;
		detail::check(::shmk_alloc_usable(a_, off, &b), "shmk_alloc_usable");
		return b;
	}
	alloc_stats stats() const
	{
		alloc_stats s{};
		detail::check(::shmk_alloc_stats(a_, &s), "shmk_alloc_stats");
		return s;
	}
	uint64_t member_used(uint32_t id) const
	{
		uint64_t b = 0;
		detail::check(::shmk_alloc_member_used(a_, id, &b), "shmk_alloc_member_used");
		return b;
	}
	// Throws -EUCLEAN with the library's message if the metadata is broken.
	void check(unsigned flags = 0) const
	{
		char msg[256] = "";
		int r = ::shmk_arena_check(a_, flags, msg, sizeof(msg));
		if (r < 0)
			detail::fail(r, "shmk_arena_check", msg);
	}

	// Robust locks (struct shmk_lock at @off): see lock_holder below.
	void lock_init(uint64_t off) const
	{
		detail::check(::shmk_lock_init(a_, off), "shmk_lock_init");
	}
	inline std::optional<lock_holder> lock(uint64_t off, timeout t = forever) const;
	inline std::optional<lock_holder> try_lock(uint64_t off) const;

protected:
	::shmk_arena *a_ = nullptr;
};

/*
 * A held robust lock; the destructor releases it. owner_died(): the
 * previous holder died holding it: repair what it protects, then call
 * consistent() before the lock is released (else it becomes
 * -ENOTRECOVERABLE for everyone).
 */
class lock_holder {
public:
	lock_holder(::shmk_arena *a, uint64_t off, bool died) noexcept
		: a_(a), off_(off), died_(died) {}
	lock_holder(lock_holder &&o) noexcept
		: a_(std::exchange(o.a_, nullptr)), off_(o.off_), died_(o.died_) {}
	lock_holder &operator=(lock_holder &&o) noexcept
	{
		if (this != &o) {
			reset();
			a_ = std::exchange(o.a_, nullptr);
			off_ = o.off_;
			died_ = o.died_;
		}
		return *this;
	}
	lock_holder(const lock_holder &) = delete;
	lock_holder &operator=(const lock_holder &) = delete;
	~lock_holder() { reset(); }

	bool owner_died() const noexcept { return died_; }
	uint64_t offset() const noexcept { return off_; }
	void consistent()
	{
		detail::check(::shmk_lock_consistent(a_, off_), "shmk_lock_consistent");
		died_ = false;
	}
	void release()
	{
		if (!a_)
			return;
		::shmk_arena *a = std::exchange(a_, nullptr);
		detail::check(::shmk_lock_release(a, off_), "shmk_lock_release");
	}

private:
	void reset() noexcept
	{
		if (a_)
			(void)::shmk_lock_release(std::exchange(a_, nullptr), off_);
	}
	::shmk_arena *a_;
	uint64_t off_;
	bool died_;
};

/* nullopt: not acquired within @t (or interrupted); -ENOTRECOVERABLE throws. */
inline std::optional<lock_holder> arena_view::lock(uint64_t off, timeout t) const
{
	int r = ::shmk_lock_acquire(a_, off, detail::ns(t));
	if (r == -ETIMEDOUT || r == -EINTR)
		return std::nullopt;
	if (r != -EOWNERDEAD)
		detail::check(r, "shmk_lock_acquire");
	return lock_holder(a_, off, r == -EOWNERDEAD);
}

/* nullopt: held by another member. */
inline std::optional<lock_holder> arena_view::try_lock(uint64_t off) const
{
	int r = ::shmk_lock_try(a_, off);
	if (r == -EBUSY)
		return std::nullopt;
	if (r != -EOWNERDEAD)
		detail::check(r, "shmk_lock_try");
	return lock_holder(a_, off, r == -EOWNERDEAD);
}

/* An arena this process is a member of; the destructor detaches. */
class arena : public arena_view {
public:
	arena() noexcept = default;
	explicit arena(::shmk_arena *a) noexcept : arena_view(a) {}
	arena(arena &&o) noexcept : arena_view(std::exchange(o.a_, nullptr)) {}
	arena &operator=(arena &&o) noexcept
	{
		if (this != &o) {
			reset();
			a_ = std::exchange(o.a_, nullptr);
		}
		return *this;
	}
	~arena() { reset(); }

	// shmk_arena_create(): create @name or join it (SHMK_OPEN_EXCL: create only).
	static arena create(const std::string &name, const arena_opts *o = nullptr,
			    unsigned flags = 0)
	{
		::shmk_arena *a = nullptr;
		detail::check(::shmk_arena_create(name.c_str(), o, flags, &a),
			      "shmk_arena_create", ::shmk_arena_error(nullptr));
		return arena(a);
	}
	static arena attach(const std::string &name, unsigned flags = 0)
	{
		::shmk_arena *a = nullptr;
		detail::check(::shmk_arena_attach(name.c_str(), flags, &a),
			      "shmk_arena_attach", ::shmk_arena_error(nullptr));
		return arena(a);
	}
	static void remove(const std::string &name, unsigned flags = 0)
	{
		detail::check(::shmk_arena_remove(name.c_str(), flags), "shmk_arena_remove",
			      ::shmk_arena_error(nullptr));
	}
	// Leave cleanly now; throws (and stays a member) on -EBUSY (a lock held).
	void detach()
	{
		if (!a_)
			return;
		int r = ::shmk_arena_detach(a_);
		if (r < 0)
			detail::fail(r, "shmk_arena_detach", ::shmk_arena_error(a_));
		a_ = nullptr;
	}
	// Give up ownership (the C handle is the caller's).
	::shmk_arena *release() noexcept { return std::exchange(a_, nullptr); }

private:
	void reset() noexcept
	{
		if (a_)
			(void)::shmk_arena_detach(std::exchange(a_, nullptr));
	}
};

// ---------------------------------------------------------------- buffers

using buf_info = struct ::shmk_buf_info;

/*
 * One reference to a refcounted copy-on-write buffer in an arena; the
 * destructor drops it (the last reference frees the buffer). Copy it
 * with clone() (a new reference, same bytes), never implicitly.
 */
class buffer {
public:
	buffer() noexcept = default;
	// Adopt a reference from the C API (it is dropped by this object).
	buffer(arena_view a, ref_t ref) noexcept : a_(a.get()), ref_(ref) {}
	buffer(buffer &&o) noexcept : a_(o.a_), ref_(std::exchange(o.ref_, 0)) {}
	buffer &operator=(buffer &&o) noexcept
	{
		if (this != &o) {
			reset();
			a_ = o.a_;
			ref_ = std::exchange(o.ref_, 0);
		}
		return *this;
	}
	buffer(const buffer &) = delete;
	buffer &operator=(const buffer &) = delete;
	~buffer() { reset(); }

	// A buffer of @size bytes (headroom @headroom before them).
	static buffer create(arena_view a, std::size_t size, std::size_t headroom = 0,
			     unsigned alloc_flags = 0, timeout t = no_wait)
	{
		ref_t r = 0;
		detail::check(::shmk_buf_create(a.get(), size, headroom, alloc_flags,
						detail::ns(t), &r), "shmk_buf_create");
		return buffer(a, r);
	}
	// The same bytes as @s, copied once into a new buffer.
	static buffer copy_of(arena_view a, const_bytes s)
	{
		buffer b = create(a, s.size());
		if (s.size())
			std::memcpy(b.write().data(), s.data(), s.size());
		return b;
	}
	static buffer copy_of(arena_view a, const std::string &s)
	{
		return copy_of(a, const_bytes(reinterpret_cast<const std::byte *>(s.data()),
					      s.size()));
	}
	// Take the reference a token carries (shmk_buf_pass()).
	static buffer accept(arena_view a, uint64_t token)
	{
		ref_t r = 0;
		detail::check(::shmk_buf_accept(a.get(), token, &r), "shmk_buf_accept");
		return buffer(a, r);
	}

	explicit operator bool() const noexcept { return ref_ != 0; }
	ref_t ref() const noexcept { return ref_; }
	arena_view arena() const noexcept { return arena_view(a_); }

	buffer clone() const
	{
		ref_t r = 0;
		detail::check(::shmk_buf_clone(a_, ref_, &r), "shmk_buf_clone");
		return buffer(arena_view(a_), r);
	}
	// Read access (no copy).
	const_bytes data() const
	{
		const void *p = nullptr;
		std::size_t n = 0;
		detail::check(::shmk_buf_data(a_, ref_, &p, &n), "shmk_buf_data");
		return const_bytes(static_cast<const std::byte *>(p), n);
	}
	std::string_view str() const
	{
		const_bytes d = data();
		return std::string_view(reinterpret_cast<const char *>(d.data()), d.size());
	}
	std::size_t size() const { return data().size(); }
	// Write access: copies first if another reference shares the bytes.
	bytes write()
	{
		void *p = nullptr;
		std::size_t n = 0;
		detail::check(::shmk_buf_write(a_, &ref_, &p, &n), "shmk_buf_write");
		return bytes(static_cast<std::byte *>(p), n);
	}
	// Prepend @n bytes (headroom, else a copy): where they go.
	bytes push(std::size_t n)
	{
		void *p = nullptr;
		detail::check(::shmk_buf_push(a_, &ref_, n, &p), "shmk_buf_push");
		return bytes(static_cast<std::byte *>(p), n);
	}
	void pull(std::size_t n) { detail::check(::shmk_buf_pull(a_, &ref_, n), "shmk_buf_pull"); }
	// Append @n bytes (growing by the library's policy): where they go.
	bytes put(std::size_t n)
	{
		void *p = nullptr;
		detail::check(::shmk_buf_put(a_, &ref_, n, &p), "shmk_buf_put");
		return bytes(static_cast<std::byte *>(p), n);
	}
	void trim(std::size_t len) { detail::check(::shmk_buf_trim(a_, &ref_, len), "shmk_buf_trim"); }
	buf_info info() const
	{
		buf_info i{};
		detail::check(::shmk_buf_info(a_, ref_, &i), "shmk_buf_info");
		return i;
	}
	// Hand the reference to member @to (0: anyone) as a token; *this empties.
	uint64_t pass(uint32_t to = 0)
	{
		uint64_t t = 0;
		detail::check(::shmk_buf_pass(a_, ref_, to, &t), "shmk_buf_pass");
		ref_ = 0;
		return t;
	}
	// Give the reference up without dropping it (the caller owns it now).
	ref_t release() noexcept { return std::exchange(ref_, 0); }
	void drop()
	{
		if (ref_)
			detail::check(::shmk_buf_drop(a_, std::exchange(ref_, 0)), "shmk_buf_drop");
	}

private:
	void reset() noexcept
	{
		if (ref_)
			(void)::shmk_buf_drop(a_, std::exchange(ref_, 0));
	}
	::shmk_arena *a_ = nullptr;
	ref_t ref_ = 0;
};

// ---------------------------------------------------------------- queues

using qmsg = ::shmk_qmsg;
using queue_opts = ::shmk_queue_opts;
using queue_stats = struct ::shmk_queue_stats;

/* A raw receive queue (shmk_msg.h); the destructor closes the handle. */
class queue {
public:
	queue() noexcept = default;
	explicit queue(::shmk_queue *q) noexcept : q_(q) {}
	queue(queue &&o) noexcept : q_(std::exchange(o.q_, nullptr)) {}
	queue &operator=(queue &&o) noexcept
	{
		if (this != &o) {
			reset();
			q_ = std::exchange(o.q_, nullptr);
		}
		return *this;
	}
	~queue() { reset(); }

	// A queue this member consumes.
	static queue create(arena_view a, const queue_opts *o = nullptr)
	{
		::shmk_queue *q = nullptr;
		detail::check(::shmk_queue_create(a.get(), o, &q), "shmk_queue_create");
		return queue(q);
	}
	// Open a queue as a producer, from a token of share().
	static queue open(arena_view a, uint64_t token)
	{
		::shmk_queue *q = nullptr;
		detail::check(::shmk_queue_open(a.get(), token, &q), "shmk_queue_open");
		return queue(q);
	}
	::shmk_queue *get() const noexcept { return q_; }
	uint64_t share(uint32_t to = 0) const
	{
		uint64_t t = 0;
		detail::check(::shmk_queue_share(q_, to, &t), "shmk_queue_share");
		return t;
	}
	// false: full (-EAGAIN) or, with SHMK_QSEND_WAIT, still full after @t.
	[[nodiscard]] bool send(const qmsg &m, unsigned flags = 0, timeout t = no_wait) const
	{
		int r = ::shmk_queue_send(q_, &m, flags, detail::ns(t));
		if (r == -EAGAIN || r == -ETIMEDOUT || r == -EINTR)
			return false;
		detail::check(r, "shmk_queue_send");
		return true;
	}
	/*
	 * Up to out.size() descriptors, waiting up to @t for the first. 0:
	 * nothing (timed out, interrupted, or a membership event is pending:
	 * read the arena's events(), then receive again).
	 */
	std::size_t recv(span<qmsg> out, timeout t = forever) const
	{
		int r = ::shmk_queue_recv(q_, out.data(), (unsigned)out.size(), detail::ns(t));
		if (r == -EAGAIN || r == -ETIMEDOUT || r == -EINTR)
			return 0;
		return (std::size_t)detail::check(r, "shmk_queue_recv");
	}
	void take_over() const { detail::check(::shmk_queue_take_over(q_), "shmk_queue_take_over"); }
	queue_stats stats() const
	{
		queue_stats s{};
		detail::check(::shmk_queue_stats(q_, &s), "shmk_queue_stats");
		return s;
	}
	void close(timeout t = std::chrono::seconds(1))
	{
		if (q_)
			detail::check(::shmk_queue_close(std::exchange(q_, nullptr), detail::ns(t)),
				      "shmk_queue_close");
	}

private:
	void reset() noexcept
	{
		if (q_)
			(void)::shmk_queue_close(std::exchange(q_, nullptr), 1000000000LL);
	}
	::shmk_queue *q_ = nullptr;
};

// ---------------------------------------------------------------- sessions

enum class msg_type : uint32_t {
	data = SHMK_MSG_DATA,
	connected = SHMK_EV_CONNECTED,
	disconnected = SHMK_EV_DISCONNECTED,
	peer_crashed = SHMK_EV_PEER_CRASHED,
	server_gone = SHMK_EV_SERVER_GONE,
	server_back = SHMK_EV_SERVER_BACK,
	server_moved = SHMK_EV_SERVER_MOVED,
	handed_over = SHMK_EV_HANDED_OVER,
	overflow = SHMK_EV_OVERFLOW,
};

/* A message or event of session::recv(); a DATA message owns its buffer. */
struct message {
	msg_type type{};
	uint32_t flags = 0;	// SHMK_MSGF_*
	uint32_t peer = 0;	// sender / peer concerned (member id)
	uint32_t peer_gen = 0;
	uint64_t tag = 0;
	uint32_t how = 0;	// events: SHMK_END_*
	int32_t status = 0;	// events: exit code or signal
	uint64_t time_ns = 0;	// events: CLOCK_MONOTONIC of the death
	buffer buf;		// DATA: the buffer (empty for a tag-only one)

	bool published() const noexcept { return flags & SHMK_MSGF_PUBLISHED; }
	bool guessed() const noexcept { return flags & SHMK_MSGF_GUESSED; }
};

using server_opts = ::shmk_server_opts;
using client_opts = ::shmk_client_opts;
using session_info = struct ::shmk_session_info;

/* What server and client share; the destructor closes the session. */
class session {
public:
	session(session &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
	session &operator=(session &&o) noexcept
	{
		if (this != &o) {
			reset();
			s_ = std::exchange(o.s_, nullptr);
		}
		return *this;
	}
	session(const session &) = delete;
	session &operator=(const session &) = delete;
	~session() { reset(); }

	::shmk_session *get() const noexcept { return s_; }
	// The session's arena (not owned: valid while the session is open).
	arena_view arena() const noexcept { return arena_view(::shmk_session_arena(s_)); }
	// For poll/epoll: readable when recv() may have something.
	int fd() const noexcept { return ::shmk_session_fd(s_); }
	session_info info() const
	{
		session_info i{};
		detail::check(::shmk_session_info(s_, &i), "shmk_session_info");
		return i;
	}

	/*
	 * Send @b to @peer (the buffer leaves *this whatever the result).
	 * false: the peer's queue is full (within @t with SHMK_SEND_WAIT).
	 * Throws -ENOTCONN, -EPIPE...
	 */
	[[nodiscard]] bool send(uint32_t peer, buffer &&b, uint64_t tag,
				unsigned flags = 0, timeout t = no_wait)
	{
		flags &= ~(unsigned)SHMK_SEND_KEEP;
		int r = ::shmk_session_send(s_, peer, b.ref(), tag, flags, detail::ns(t));
		if (r != -EINVAL)
			b.release();	// the library took it
		return sent(r);
	}
	// Send a clone of @b (SHMK_SEND_KEEP): the caller keeps its reference.
	[[nodiscard]] bool send_clone(uint32_t peer, const buffer &b, uint64_t tag,
					 unsigned flags = 0, timeout t = no_wait)
	{
		return sent(::shmk_session_send(s_, peer, b.ref(), tag, flags | SHMK_SEND_KEEP,
						detail::ns(t)));
	}
	// A tag-only message.
	[[nodiscard]] bool send_tag(uint32_t peer, uint64_t tag, unsigned flags = 0,
				    timeout t = no_wait)
	{
		return sent(::shmk_session_send(s_, peer, 0, tag, flags, detail::ns(t)));
	}
	/*
	 * The next message or event, waiting up to @t; nullopt if none came
	 * (or a signal interrupted the wait). Throws -ENOBUFS (too many
	 * references held: drop some) and other errors.
	 */
	std::optional<message> recv(timeout t = forever)
	{
		::shmk_msg m{};
		int r = ::shmk_session_recv(s_, &m, detail::ns(t));
		if (r == -EAGAIN || r == -ETIMEDOUT || r == -EINTR)
			return std::nullopt;
		check(r, "shmk_session_recv");
		message out;
		out.type = static_cast<msg_type>(m.type);
		out.flags = m.flags;
		out.peer = m.peer;
		out.peer_gen = m.peer_gen;
		out.tag = m.tag;
		out.how = m.how;
		out.status = m.status;
		out.time_ns = m.time_ns;
		if (m.type == SHMK_MSG_DATA && m.ref)
			out.buf = buffer(arena(), m.ref);
		return out;
	}
	// Clean end now (throws); the destructor does the same silently.
	void close()
	{
		if (s_)
			detail::check(::shmk_session_close(std::exchange(s_, nullptr)),
				      "shmk_session_close");
	}

protected:
	explicit session(::shmk_session *s) noexcept : s_(s) {}
	int check(int r, const char *call) const
	{
		if (r < 0)
			detail::fail(r, call, ::shmk_session_error(s_));
		return r;
	}
	bool sent(int r) const
	{
		if (r == -EAGAIN || r == -ETIMEDOUT)
			return false;
		check(r, "shmk_session_send");
		return true;
	}
	::shmk_session *s_ = nullptr;

private:
	void reset() noexcept
	{
		if (s_)
			(void)::shmk_session_close(std::exchange(s_, nullptr));
	}
};

class server : public session {
public:
	// shmk_server_start(): throws with the library's reason (-EBUSY...).
	static server start(const std::string &name, const server_opts *o = nullptr)
	{
		::shmk_session *s = nullptr;
		detail::check(::shmk_server_start(name.c_str(), o, &s), "shmk_server_start",
			      ::shmk_session_error(nullptr));
		return server(s);
	}
	// One buffer to every subscriber of @topic, no copy; how many it went to.
	int publish(unsigned topic, const buffer &b, uint64_t tag, unsigned flags = 0)
	{
		return check(::shmk_server_publish(s_, topic, b.ref(), tag, flags),
			     "shmk_server_publish");
	}
	void disconnect(uint32_t peer)
	{
		check(::shmk_server_disconnect(s_, peer), "shmk_server_disconnect");
	}

private:
	explicit server(::shmk_session *s) noexcept : session(s) {}
};

class client : public session {
public:
	/*
	 * shmk_client_connect(), waiting up to @t for the server to answer
	 * (SHMK_CLIENT_WAIT_SERVER in @o->flags: also for it to appear).
	 */
	static client connect(const std::string &name, timeout t = std::chrono::seconds(5),
			      const client_opts *o = nullptr)
	{
		::shmk_session *s = nullptr;
		detail::check(::shmk_client_connect(name.c_str(), o, detail::ns(t), &s),
			      "shmk_client_connect", ::shmk_session_error(nullptr));
		return client(s);
	}
	void subscribe(uint64_t topics)
	{
		check(::shmk_client_subscribe(s_, topics), "shmk_client_subscribe");
	}

private:
	explicit client(::shmk_session *s) noexcept : session(s) {}
};

inline std::string version() { return ::shmk_version(); }

} // namespace shmk

#endif // SHMK_HPP
