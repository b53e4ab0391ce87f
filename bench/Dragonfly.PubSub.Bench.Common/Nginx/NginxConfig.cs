using System.Globalization;

namespace Dragonfly.PubSub.Bench.Common.Nginx;

/// <summary>
/// Our own nginx (not the system's service): a generated config in a prefix folder, one worker,
/// <c>sendfile on</c>, in the foreground so that it is stopped by PID.
/// </summary>
public static class NginxConfig
{
    /// <summary>
    /// One line per request, fields separated by single spaces: client address, method, status, body
    /// bytes sent (without headers; what a cut-off transfer really sent), the Range header (quoted, "-" when none).
    /// </summary>
    public const string AccessLogFormat = "$remote_addr $request_method $status $body_bytes_sent \"$http_range\"";

    /// <param name="listen">Such as <c>127.0.0.1:8080</c>.</param>
    /// <param name="singleProcess">No master: the PID is the one serving and its CPU is all of nginx's.</param>
    /// <param name="accessLog">
    /// Where to log each request as <see cref="AccessLogFormat"/> (the bytes an origin served), or null for none.
    /// </param>
    public static string Render(string prefix, string servedFolder, string listen, int workerConnections, bool singleProcess, string? accessLog = null)
    {
        var master = singleProcess ? "master_process off;\n" : "";
        var log = accessLog is null ? "access_log off;" : $"log_format dfbench '{AccessLogFormat}';\n    access_log {accessLog} dfbench;";
        return string.Create(CultureInfo.InvariantCulture, $$"""
            daemon off;
            {{master}}worker_processes 1;
            pid {{prefix}}/nginx.pid;
            error_log {{prefix}}/error.log warn;
            events { worker_connections {{workerConnections}}; }
            http {
                {{log}}
                sendfile on;
                tcp_nopush on;
                default_type application/octet-stream;
                client_body_temp_path {{prefix}}/client_body;
                proxy_temp_path {{prefix}}/proxy;
                fastcgi_temp_path {{prefix}}/fastcgi;
                uwsgi_temp_path {{prefix}}/uwsgi;
                scgi_temp_path {{prefix}}/scgi;
                server {
                    listen {{listen}};
                    root {{servedFolder}};
                }
            }
            """);
    }

    /// <summary>Writes <paramref name="config"/> as <c>PREFIX/nginx.conf</c> and returns nginx's arguments to run it.</summary>
    public static async Task<string[]> WriteAsync(string prefix, string config, CancellationToken cancel)
    {
        var path = Path.Combine(prefix, "nginx.conf");
        await File.WriteAllTextAsync(path, config, cancel);
        // -e: the error log before the config is read (else nginx opens its compiled-in path).
        return ["-c", path, "-p", prefix, "-e", Path.Combine(prefix, "error.log")];
    }
}
