#include "pulsestream/consumer/batch_loop.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/use_future.hpp>
#include <boost/system/system_error.hpp>
#include <future>
#include <map>
#include <tuple>
#include <utility>

#include "pulsestream/kafka/error.hpp"

namespace pulsestream::consumer {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Poll slices are short so that a stop request and health ticks are never late.
constexpr auto poll_slice = 100ms;
// While a write is in flight: how soon its end is noticed by a loop waiting for records.
constexpr auto write_poll_slice = 5ms;
// An idle poll returns to the loop this often to run its chores (maintenance, pings, lag).
constexpr auto idle_return = 1s;
constexpr int commit_attempts = 3;

std::int64_t epoch_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string text_of(std::span<const std::int32_t> partitions) {
    std::string out = "[";
    for (const auto p : partitions) {
        if (out.size() > 1) out += ',';
        out += std::to_string(p);
    }
    return out + "]";
}

std::string text_of(std::span<const partition_offset> offsets) {
    std::string out = "[";
    for (const auto& po : offsets) {
        if (out.size() > 1) out += ',';
        out += std::to_string(po.partition) + "@" + std::to_string(po.offset);
    }
    return out + "]";
}

// The group is rebalancing: only a poll (which serves the rebalance) can make a commit succeed
// again, so retrying at once is pointless.
bool membership_changing(const boost::system::error_code& ec) {
    switch (kafka::resp_err(ec)) {
        case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
        case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
        case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
        case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
        case RD_KAFKA_RESP_ERR__STATE:
            return true;
        default:
            return false;
    }
}

// One DLQ entry of a batch, whatever step found it.
struct dead_letter {
    std::size_t record;
    failure_class error_class;
    std::string message;
};

// Per partition, the lowest offset of either batch: where to rewind when both are abandoned
// (the older batch's start, or the newer one's for partitions only it holds).
std::vector<partition_offset> oldest_offsets(const batch& older, const batch& newer) {
    std::map<std::int32_t, std::int64_t> first;
    for (const auto* b : {&older, &newer}) {
        for (const auto& po : b->first_offsets()) {
            auto [it, fresh] = first.try_emplace(po.partition, po.offset);
            if (!fresh) it->second = std::min(it->second, po.offset);
        }
    }
    std::vector<partition_offset> out;
    for (const auto& [partition, offset] : first) out.push_back({partition, offset});
    return out;
}

}  // namespace

batch_loop::batch_loop(loop_options options, group_member_config member_config,
                       kafka::producer& producer, sharded_writer& writer,
                       metrics::consumer_metrics& metrics, health_state& health)
    : options_(std::move(options)),
      producer_(producer),
      writer_(writer),
      metrics_(metrics),
      health_(health),
      backoff_(options_.backoff_initial) {
    member_config.on_assigned = [this](std::span<const std::int32_t> p) { on_assigned(p); };
    member_config.on_revoked = [this](std::span<const std::int32_t> p, bool lost) {
        on_revoked(p, lost);
    };
    member_ = std::make_unique<group_member>(std::move(member_config));
}

batch_loop::~batch_loop() = default;

void batch_loop::request_stop() noexcept {
    {
        std::lock_guard lock(stop_mutex_);
        stop_ = true;
    }
    stop_cv_.notify_all();
}

void batch_loop::run() {
    health_.loop_started();
    next_maintenance_ = clock::now();
    while (!stopping()) {
        health_.tick();
        // On every path, not only when idle: during a database outage the loop never idles
        // (it polls the same batch again after each rewind) while the backlog grows.
        if (clock::now() - last_lag_update_ >= idle_return) update_lag();
        if (!in_flight_ && clock::now() >= next_maintenance_) maintain();
        if (!pending_rewind_.empty()) {
            rewind();
            if (!pending_rewind_.empty()) {
                back_off();  // never poll past records that were not stored
                continue;
            }
        }
        poll_batch();
        if (retry_pending_) {  // a revocation finished the write in flight, and it failed
            retry_pending_ = false;
            batch_.clear();  // polled past the rewind point; it comes again
            back_off();
            continue;
        }
        if (batch_.empty()) {
            if (in_flight_) {
                if (finish_in_flight() == outcome::transient) abandon_and_rewind();
                continue;
            }
            if (!uncommitted_.empty()) commit_uncommitted();
            idle_ping();
            continue;
        }
        metrics_.batch(batch_.size());
        auto plan = plan_batch(batch_, options_.rules);
        health_.tick();
        // Batches are finished in order: the previous one before the next one is written.
        if (in_flight_ && finish_in_flight() == outcome::transient) {
            abandon_and_rewind();
            continue;
        }
        start_write(std::move(batch_), std::move(plan));
        batch_.clear();
    }
    // Finish (or abandon uncommitted) the batch being written. (A batch taken when the stop
    // came was written above like any other; nothing else is in flight here.)
    if (in_flight_ && finish_in_flight() == outcome::transient) in_flight_.reset();
    batch_.clear();
    spdlog::info("leaving consumer group");
    member_->close();
    health_.assigned(0);
}

bool batch_loop::write_done() const {
    return in_flight_ && in_flight_->result.wait_for(std::chrono::seconds(0)) ==
                             std::future_status::ready;
}

void batch_loop::poll_batch() {
    // While a write is in flight, poll in short slices so that its end is noticed promptly.
    const auto slice = [this] { return in_flight_ ? write_poll_slice : poll_slice; };
    const auto idle_until = clock::now() + idle_return;
    while (batch_.empty() && !stopping() && !retry_pending_ && clock::now() < idle_until) {
        health_.tick();
        if (write_done()) return;  // commit the finished write before waiting for more
        if (auto record = member_->poll(slice())) batch_.add(std::move(record));
    }
    if (batch_.empty()) return;
    const auto deadline = clock::now() + options_.batch_max_wait;
    while (batch_.size() < options_.batch_max_events && !stopping() && !retry_pending_) {
        const auto now = clock::now();
        if (now >= deadline || write_done()) break;
        const auto remaining = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
        if (auto record = member_->poll(std::min<std::chrono::milliseconds>(remaining, slice()))) {
            batch_.add(std::move(record));
        } else {
            health_.tick();
        }
    }
}

void batch_loop::start_write(batch records, batch_plan plan) {
    in_flight_.emplace(in_flight{std::move(records), std::move(plan), {}, clock::now()});
    auto& f = *in_flight_;
    if (f.plan.rows.empty()) {
        std::promise<pg::db_result<pg::write_report>> done;
        done.set_value(pg::write_report{});
        f.result = done.get_future();
        return;
    }
    // The rows live in in_flight_ until the future is consumed; nothing else touches the
    // writer meanwhile (maintenance and pings wait for the write to finish).
    f.result = std::async(std::launch::async,
                          [this, rows = std::span<core::event>(f.plan.rows)] {
                              return writer_.write(rows);
                          });
}

batch_loop::outcome batch_loop::finish_in_flight() {
    auto& f = *in_flight_;
    pg::write_report report;
    if (check_write(f, report) == outcome::transient) return outcome::transient;
    health_.tick();
    if (send_to_dlq(f.records, f.plan, report) == outcome::transient) return outcome::transient;
    commit(f.records);
    metrics_.events_processed(report.inserted + report.duplicates);
    health_.tick();
    backoff_ = options_.backoff_initial;
    in_flight_.reset();
    return outcome::committed;
}

batch_loop::outcome batch_loop::check_write(in_flight& f, pg::write_report& report) {
    if (f.plan.rows.empty()) {
        (void)f.result.get();
        return outcome::committed;
    }
    auto result = f.result.get();
    last_db_check_ = clock::now();
    if (!result) {
        database_usable(false);
        spdlog::warn(
            "database write failed, batch of {} records rolled back and retried in {} ms: "
            "{}{}{}",
            f.records.size(), backoff_.count(), result.error().sqlstate,
            result.error().sqlstate.empty() ? "" : " ", result.error().message);
        return outcome::transient;
    }
    metrics_.db_write(last_db_check_ - f.started);
    database_usable(true);
    report = std::move(*result);
    metrics_.rows(report.inserted, report.duplicates);
    spdlog::debug("batch of {} records: {} inserted, {} duplicates, {} refused",
                  f.records.size(), report.inserted, report.duplicates, report.refused.size());
    return outcome::committed;
}

batch_loop::outcome batch_loop::send_to_dlq(const batch& records, const batch_plan& plan,
                                            const pg::write_report& report) {
    std::vector<dead_letter> letters;
    letters.reserve(plan.rejected.size() + report.refused.size());
    for (const auto& r : plan.rejected) letters.push_back({r.record, r.error_class, r.message});
    for (const auto& r : report.refused) {
        letters.push_back({plan.row_records.at(r.index), failure_class::constraint,
                           r.sqlstate + ": " + r.message});
    }
    if (letters.empty()) return outcome::committed;
    std::sort(letters.begin(), letters.end(),
              [](const dead_letter& a, const dead_letter& b) { return a.record < b.record; });

    const auto failed_at = epoch_ms();
    std::vector<kafka::message> messages;
    messages.reserve(letters.size());
    for (const auto& letter : letters) {
        const auto& record = records[letter.record];
        spdlog::warn("dead-lettering {} record {}[{}]@{}: {}", to_string(letter.error_class),
                     member_->topic(), record.partition, record.offset, letter.message);
        messages.push_back(make_dlq_message(source_of(record, member_->topic()), letter.error_class,
                                            letter.message, options_.consumer_id, failed_at));
    }
    auto delivered = producer_.async_produce_all(options_.dlq_topic, std::move(messages),
                                                 boost::asio::use_future);
    if (delivered.wait_for(options_.dlq_timeout) != std::future_status::ready) {
        spdlog::warn("DLQ delivery of {} records not confirmed within {} ms; batch retried",
                     letters.size(), options_.dlq_timeout.count());
        return outcome::transient;
    }
    try {
        (void)delivered.get();
    } catch (const std::exception& e) {
        spdlog::warn("DLQ delivery of {} records failed, batch retried: {}", letters.size(),
                     e.what());
        return outcome::transient;
    }
    std::size_t counts[3] = {0, 0, 0};
    for (const auto& letter : letters) ++counts[static_cast<int>(letter.error_class)];
    metrics_.events_failed("parse", counts[0]);
    metrics_.events_failed("validation", counts[1]);
    metrics_.events_failed("constraint", counts[2]);
    return outcome::committed;
}

void batch_loop::commit(const batch& records) {
    for (const auto& po : records.next_offsets()) {
        auto [it, fresh] = uncommitted_.try_emplace(po.partition, po.offset);
        if (!fresh) it->second = std::max(it->second, po.offset);
    }
    commit_uncommitted();
}

void batch_loop::commit_uncommitted() {
    // Only partitions still owned: a revoked one's next owner reads its records again.
    const auto& owned = member_->assignment();
    std::erase_if(uncommitted_, [&owned](const auto& entry) {
        return !std::binary_search(owned.begin(), owned.end(), entry.first);
    });
    if (uncommitted_.empty()) return;
    std::vector<partition_offset> offsets;
    for (const auto& [partition, offset] : uncommitted_) offsets.push_back({partition, offset});
    boost::system::error_code ec;
    for (int attempt = 1; attempt <= commit_attempts; ++attempt) {
        ec = member_->commit(offsets);
        if (!ec) break;
        spdlog::log(membership_changing(ec) ? spdlog::level::info : spdlog::level::warn,
                    "offset commit {} failed (attempt {}/{}): {}", text_of(offsets), attempt,
                    commit_attempts, ec.message());
        if (membership_changing(ec)) break;
        if (attempt < commit_attempts) {
            std::unique_lock lock(stop_mutex_);
            stop_cv_.wait_for(lock, 100ms * attempt);
        }
    }
    if (ec) {
        // The rows are stored. The offsets are kept and committed with the next batch (or when
        // idle) while the partitions stay here, e.g. after a rebalance that refused commits
        // while it lasted; otherwise the records come again to whoever owns the partition next
        // and are counted as duplicates. Nothing is lost.
        metrics_.commit_failed();
        return;
    }
    for (const auto& po : offsets) committed_offsets_[po.partition] = po.offset;
    uncommitted_.clear();
    committed_.fetch_add(1, std::memory_order_relaxed);
    update_lag();
}

void batch_loop::abandon_and_rewind() {
    metrics_.db_retry();
    pending_rewind_ = oldest_offsets(in_flight_->records, batch_);
    in_flight_.reset();
    batch_.clear();
    rewind();
    back_off();
}

void batch_loop::rewind() {
    const auto ec = member_->seek(pending_rewind_, options_.seek_timeout);
    if (ec) {
        spdlog::warn("rewind to {} failed, retrying: {}", text_of(pending_rewind_), ec.message());
        return;
    }
    spdlog::debug("rewound to {}", text_of(pending_rewind_));
    pending_rewind_.clear();
}

void batch_loop::back_off() {
    std::unique_lock lock(stop_mutex_);
    stop_cv_.wait_for(lock, backoff_, [this] { return stop_.load(); });
    backoff_ = std::min(backoff_ * 2, options_.backoff_max);
}

void batch_loop::maintain() {
    const auto result =
        writer_.ensure_partitions(options_.partitions_ahead, options_.retention_days);
    const auto now = clock::now();
    last_db_check_ = now;
    if (result) {
        database_usable(true);
        next_maintenance_ = now + options_.maintenance_interval;
        spdlog::debug("partitions ensured ({} days ahead, retention {} days)",
                      options_.partitions_ahead, options_.retention_days);
        return;
    }
    database_usable(false);
    next_maintenance_ = now + options_.maintenance_retry;
    spdlog::warn(
        "partition maintenance failed, retrying in {} s: {}",
        std::chrono::duration_cast<std::chrono::seconds>(options_.maintenance_retry).count(),
        result.error().message);
}

void batch_loop::idle_ping() {
    const auto now = clock::now();
    if (now - last_db_check_ < options_.idle_ping_interval) return;
    last_db_check_ = now;
    const auto result = writer_.ping();
    database_usable(static_cast<bool>(result));
    if (!result) spdlog::warn("database unavailable: {}", result.error().message);
}

void batch_loop::database_usable(bool usable) {
    health_.database(usable);
    if (!usable) {
        if (!database_failing_since_) database_failing_since_ = clock::now();
        return;
    }
    if (!database_failing_since_) return;
    // Every failure was logged as a warning; without this line the log never says it ended.
    const auto failing = std::chrono::duration_cast<std::chrono::milliseconds>(
        clock::now() - *database_failing_since_);
    spdlog::info("database usable again, after {:.1f} s of failures", failing.count() / 1000.0);
    database_failing_since_.reset();
}

void batch_loop::update_lag() {
    last_lag_update_ = clock::now();
    // Records not yet committed: from the offset this member committed last; for a partition
    // it has not committed yet, from its position, which starts at the group's committed offset.
    // (Right after a rewind the position is unknown until the next fetch, so it cannot serve
    // as the only base while an outage keeps rewinding.)
    std::map<std::int32_t, std::int64_t> from(committed_offsets_);
    for (const auto& po : member_->positions()) from.try_emplace(po.partition, po.offset);
    for (const auto& [partition, offset] : from) {
        if (const auto high = member_->high_watermark(partition)) {
            metrics_.lag(partition, std::max<std::int64_t>(0, *high - offset));
        }
    }
}

void batch_loop::on_assigned(std::span<const std::int32_t> partitions) {
    spdlog::info("partitions assigned: {} (now {})", text_of(partitions),
                 text_of(member_->assignment()));
    health_.assigned(member_->assignment().size());
    metrics_.assigned_partitions(member_->assignment().size());
}

void batch_loop::on_revoked(std::span<const std::int32_t> partitions, bool lost) {
    // The batch being written is finished first, exactly as the loop would have done before
    // polling again: committed in Kafka if it is committed in PostgreSQL, else rewound.
    if (in_flight_ && finish_in_flight() == outcome::transient) {
        metrics_.db_retry();
        pending_rewind_ = oldest_offsets(in_flight_->records, batch_);
        in_flight_.reset();
        batch_.clear();
        retry_pending_ = true;
    }
    std::erase_if(uncommitted_, [partitions](const auto& entry) {
        return std::binary_search(partitions.begin(), partitions.end(), entry.first);
    });
    std::erase_if(committed_offsets_, [partitions](const auto& entry) {
        return std::binary_search(partitions.begin(), partitions.end(), entry.first);
    });
    const auto before = batch_.size();
    batch_.drop_partitions(partitions);
    std::erase_if(pending_rewind_, [partitions](const partition_offset& po) {
        return std::binary_search(partitions.begin(), partitions.end(), po.partition);
    });
    for (const auto p : partitions) metrics_.forget_partition(p);
    const auto remaining = member_->assignment().size() >= partitions.size()
                               ? member_->assignment().size() - partitions.size()
                               : 0;
    health_.assigned(remaining);
    metrics_.assigned_partitions(remaining);
    spdlog::info("partitions {}: {}; {} uncommitted records dropped", lost ? "lost" : "revoked",
                 text_of(partitions), before - batch_.size());
}

}  // namespace pulsestream::consumer
