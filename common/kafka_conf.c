/* kafka_conf.c: librdkafka configuration shared by every d2ev client. */
#include <string.h>
#include <syslog.h>

#include "d2ev/kafka.h"
#include "d2ev/log.h"

int d2ev_kafka_conf_set(rd_kafka_conf_t *c, const char *name, const char *value,
                        struct d2ev_err *err)
{
    char errstr[256];
    if (rd_kafka_conf_set(c, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        /* values of secret properties are never echoed */
        return d2ev_err_set(err, D2EV_ERR_INVALID, "kafka property %s: %s", name, errstr);
    }
    return D2EV_OK;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum d2ev_log_level l = level <= LOG_ERR       ? D2EV_LOG_ERROR
                            : level == LOG_WARNING ? D2EV_LOG_WARN
                            : level == LOG_NOTICE  ? D2EV_LOG_INFO
                                                   : D2EV_LOG_DEBUG;
    if (!d2ev_log_enabled(l))
        return;
    d2ev_log_write(l, "librdkafka",
                   (const struct d2ev_log_field[]){ D2EV_LF_STR("client", rd_kafka_name(rk)),
                                                    D2EV_LF_STR("facility", fac),
                                                    D2EV_LF_STR("detail", buf), D2EV_LF_END });
}

static int apply_extra(rd_kafka_conf_t *c, const char *extra, struct d2ev_err *err)
{
    if (!extra || !*extra)
        return D2EV_OK;
    char buf[2048];
    if (strlen(extra) >= sizeof(buf))
        return d2ev_err_set(err, D2EV_ERR_LIMIT, "kafka-extra is longer than %zu bytes",
                            sizeof(buf) - 1);
    strcpy(buf, extra);
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return d2ev_err_set(err, D2EV_ERR_INVALID, "kafka-extra: '%.64s' is not key=value", kv);
        *eq = '\0';
        int rc = d2ev_kafka_conf_set(c, kv, eq + 1, err);
        if (rc)
            return rc;
    }
    return D2EV_OK;
}

rd_kafka_conf_t *d2ev_kafka_conf_build(const struct d2ev_kafka_conf *k, struct d2ev_err *err)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (!c) {
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (!k->brokers || !*k->brokers) {
        d2ev_err_set(err, D2EV_ERR_INVALID,
                     "no Kafka brokers: set D2EV_KAFKA_BROKERS (host:port[,host:port])");
        goto fail;
    }
    if (d2ev_kafka_conf_set(c, "bootstrap.servers", k->brokers, err) ||
        d2ev_kafka_conf_set(c, "client.id", k->client_id ? k->client_id : "d2ev", err) ||
        d2ev_kafka_conf_set(c, "log.connection.close", "false", err) ||
        d2ev_kafka_conf_set(c, "reconnect.backoff.max.ms", "2000", err))
        goto fail;
    if (k->security_protocol && *k->security_protocol &&
        d2ev_kafka_conf_set(c, "security.protocol", k->security_protocol, err))
        goto fail;
    if (k->sasl_mechanism && *k->sasl_mechanism &&
        d2ev_kafka_conf_set(c, "sasl.mechanisms", k->sasl_mechanism, err))
        goto fail;
    if (k->sasl_username && *k->sasl_username &&
        d2ev_kafka_conf_set(c, "sasl.username", k->sasl_username, err))
        goto fail;
    if (k->sasl_password && *k->sasl_password &&
        d2ev_kafka_conf_set(c, "sasl.password", k->sasl_password, err))
        goto fail;
    if (k->ssl_ca_location && *k->ssl_ca_location &&
        d2ev_kafka_conf_set(c, "ssl.ca.location", k->ssl_ca_location, err))
        goto fail;
    if (apply_extra(c, k->extra, err))
        goto fail;
    rd_kafka_conf_set_log_cb(c, log_cb);
    return c;
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}

rd_kafka_conf_t *d2ev_kafka_conf_build_producer(const struct d2ev_kafka_conf *k,
                                                struct d2ev_err *err)
{
    rd_kafka_conf_t *c = d2ev_kafka_conf_build(k, err);
    if (c && d2ev_kafka_conf_set(c, "partitioner", "murmur2_random", err)) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    return c;
}

char *d2ev_msg_key(const rd_kafka_message_t *msg, char *buf, size_t size)
{
    size_t n = msg->key ? msg->key_len : 0;
    if (n >= size)
        n = size - 1;
    if (n)
        memcpy(buf, msg->key, n);
    buf[n] = '\0';
    return buf;
}

int32_t d2ev_kafka_partition_of(const char *key, int32_t partition_cnt)
{
    if (partition_cnt <= 0)
        return 0;
    /* librdkafka's own partitioner, so this can never disagree with producers;
     * it does not use the topic handle */
    return rd_kafka_msg_partitioner_murmur2(NULL, key, strlen(key), partition_cnt, NULL, NULL);
}
