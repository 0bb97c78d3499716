#pragma once

/// @file
/// RAII owners for librdkafka's C handles: each is a `std::unique_ptr` whose deleter calls the
/// matching `rd_kafka_*_destroy`. They add no behaviour: ownership rules are librdkafka's
/// (e.g. a `conf_ptr` passed successfully to `rd_kafka_new` must be `release()`d, because the
/// new client owns it; a `headers_ptr` given to a successful produce likewise).

#include <librdkafka/rdkafka.h>

#include <memory>

namespace pulsestream::kafka {

namespace detail {

/// Calls `Destroy` on a non-null pointer. `Destroy` must not throw (librdkafka's are C).
template <class T, void (*Destroy)(T*)>
struct c_deleter {
    void operator()(T* p) const noexcept {
        if (p != nullptr) {
            Destroy(p);
        }
    }
};

}  // namespace detail

/// Owns a client (`rd_kafka_new`). Destruction blocks until librdkafka's threads have stopped;
/// it does not serve delivery reports, so flush or purge first (see `producer::stop`).
using handle_ptr = std::unique_ptr<rd_kafka_t, detail::c_deleter<rd_kafka_t, rd_kafka_destroy>>;

/// Owns an application reference to a topic (`rd_kafka_topic_new`). Destroy before its client.
using topic_ptr =
    std::unique_ptr<rd_kafka_topic_t, detail::c_deleter<rd_kafka_topic_t, rd_kafka_topic_destroy>>;

/// Owns a configuration object until `rd_kafka_new` takes it.
using conf_ptr =
    std::unique_ptr<rd_kafka_conf_t, detail::c_deleter<rd_kafka_conf_t, rd_kafka_conf_destroy>>;

/// Owns a queue reference (`rd_kafka_queue_new`, `rd_kafka_queue_get_*`). Destroy before its
/// client.
using queue_ptr =
    std::unique_ptr<rd_kafka_queue_t, detail::c_deleter<rd_kafka_queue_t, rd_kafka_queue_destroy>>;

/// Owns a topic-partition list (`rd_kafka_topic_partition_list_new`).
using partition_list_ptr =
    std::unique_ptr<rd_kafka_topic_partition_list_t,
                    detail::c_deleter<rd_kafka_topic_partition_list_t,
                                      rd_kafka_topic_partition_list_destroy>>;

/// Owns a header list (`rd_kafka_headers_new`, `rd_kafka_headers_copy`) until a produce call
/// takes it.
using headers_ptr = std::unique_ptr<rd_kafka_headers_t,
                                    detail::c_deleter<rd_kafka_headers_t, rd_kafka_headers_destroy>>;

/// Owns an error object (`rd_kafka_produceva`, transactional and admin calls).
using error_ptr =
    std::unique_ptr<rd_kafka_error_t, detail::c_deleter<rd_kafka_error_t, rd_kafka_error_destroy>>;

/// Owns a consumed or polled message (`rd_kafka_consumer_poll`, `rd_kafka_consume*`).
using message_ptr = std::unique_ptr<rd_kafka_message_t,
                                    detail::c_deleter<rd_kafka_message_t, rd_kafka_message_destroy>>;

/// Owns a metadata snapshot (`rd_kafka_metadata`); the deleter adapts the const pointer.
struct metadata_deleter {
    void operator()(const rd_kafka_metadata_t* md) const noexcept {
        if (md != nullptr) {
            rd_kafka_metadata_destroy(md);
        }
    }
};
using metadata_ptr = std::unique_ptr<const rd_kafka_metadata_t, metadata_deleter>;

}  // namespace pulsestream::kafka
