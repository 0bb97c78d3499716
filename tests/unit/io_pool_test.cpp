// io_pool's teardown: a handler left on one context may own I/O objects of another (the HTTP
// server's accept loops share a state that holds every context's acceptor), so destroying it
// must not touch a context whose services are already gone.
#include "pulsestream/http/io_pool.hpp"

#include <gtest/gtest.h>

#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <memory>

namespace {

// Stands in for a context's socket services: records when the context destroys its services.
class services_probe : public boost::asio::execution_context::service {
public:
    using key_type = services_probe;
    static inline boost::asio::execution_context::id id;

    explicit services_probe(boost::asio::execution_context& owner) : service(owner) {}
    ~services_probe() override {
        if (destroyed != nullptr) *destroyed = true;
    }
    void shutdown() override {}

    bool* destroyed = nullptr;
};

TEST(io_pool,
     a_handler_left_on_one_context_is_destroyed_while_every_context_still_has_its_services) {
    bool first_context_services_destroyed = false;
    bool handler_destroyed = false;
    bool services_existed_then = false;
    {
        pulsestream::http::io_pool pool(2);
        boost::asio::use_service<services_probe>(pool.context(0)).destroyed =
            &first_context_services_destroyed;
        // Never runs (the pool never starts): the second context destroys it at teardown.
        auto witness = std::shared_ptr<int>(new int(0), [&](int* p) {
            handler_destroyed = true;
            services_existed_then = !first_context_services_destroyed;
            delete p;
        });
        boost::asio::post(pool.context(1), [witness] {});
    }
    ASSERT_TRUE(handler_destroyed);
    EXPECT_TRUE(services_existed_then);
    EXPECT_TRUE(first_context_services_destroyed);
}

}  // namespace
