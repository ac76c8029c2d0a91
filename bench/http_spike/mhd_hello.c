/* mhd_hello.c - minimal libmicrohttpd server for the HTTP server library
 * benchmark (docs/decisions/0001-http-server.md). One internal epoll thread
 * (no thread per connection, no thread pool); keep-alive HTTP/1.1.
 * GET /healthz -> 200 {"status":"ok"} application/json.
 * Build: gcc -O2 mhd_hello.c -lmicrohttpd
 * Usage: mhd_hello PORT   (listens on 127.0.0.1 only) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

static const char body[] = "{\"status\":\"ok\"}";
static struct MHD_Response *ok_response;
static struct MHD_Response *notfound_response;

static enum MHD_Result on_req(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    (void)upload_data;
    /* First call: headers only. Queueing a response here makes MHD 0.9.75
     * close the connection after it (it cannot know the request is complete),
     * so answer on the second call, as MHD's own examples do. */
    if (*con_cls == NULL) {
        *con_cls = (void *)1;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* discard any body */
        return MHD_YES;
    }
    if (strcmp(url, "/healthz") != 0)
        return MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, notfound_response);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, notfound_response);
    return MHD_queue_response(conn, MHD_HTTP_OK, ok_response);
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    struct MHD_Daemon *d;
    sigset_t set;
    char *end;
    long port;
    int sig;

    if (argc != 2 || (port = strtol(argv[1], &end, 10)) <= 0 || port > 65535 || *end != '\0') {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);

    ok_response =
        MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    notfound_response = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (ok_response == NULL || notfound_response == NULL ||
        MHD_add_response_header(ok_response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") !=
            MHD_YES)
        return 1;

    /* Block the signals we wait for before MHD starts its thread. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL,
                         NULL, on_req, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
                         MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "mhd_hello: cannot start daemon on 127.0.0.1:%ld\n", port);
        return 1;
    }
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    MHD_destroy_response(ok_response);
    MHD_destroy_response(notfound_response);
    return 0;
}
