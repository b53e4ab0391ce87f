using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Dragonfly.PubSub.Origins.Ftp;

/// <summary>
/// One logged-in FTP control connection in binary mode, with passive-mode data connections
/// (EPSV, falling back to PASV). Commands are sent one at a time by a single caller.
/// </summary>
internal sealed partial class FtpConnection : IDisposable
{
    private readonly TcpClient _control;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;
    private readonly Uri _url;
    private readonly TimeSpan _replyTimeout;
    private readonly TimeSpan _connectTimeout;

    private FtpConnection(TcpClient control, Uri url, TimeSpan replyTimeout, TimeSpan connectTimeout)
    {
        _control = control;
        _stream = control.GetStream();
        _reader = new StreamReader(_stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1024, leaveOpen: true);
        _url = url;
        _replyTimeout = replyTimeout;
        _connectTimeout = connectTimeout;
    }

    public static async Task<FtpConnection> OpenAsync(Uri url, FtpOriginOptions options, OriginRequestOptions request, CancellationToken cancellationToken)
    {
        var port = url.Port > 0 ? url.Port : 21;
        var tcp = await ConnectAsync(url, url.DnsSafeHost, port, options.ConnectTimeout, cancellationToken, options.Egress).ConfigureAwait(false);
        var connection = new FtpConnection(tcp, url, request.ResponseTimeout, options.ConnectTimeout);
        try
        {
            var greeting = await connection.ReadReplyAsync(cancellationToken).ConfigureAwait(false);
            while (greeting.IsPreliminary)
            {
                greeting = await connection.ReadReplyAsync(cancellationToken).ConfigureAwait(false); // 120: ready in a moment
            }
            connection.Expect(greeting, 220);

            var (user, password) = Credentials(url, options);
            var reply = await connection.SendAsync("USER " + user, cancellationToken).ConfigureAwait(false);
            if (reply.Code == 331)
            {
                reply = await connection.SendAsync("PASS " + password, cancellationToken).ConfigureAwait(false);
            }
            if (reply.Code is 530 or 532)
            {
                throw new OriginException(OriginErrorKind.AccessDenied,
                    $"login refused by origin (FTP {reply.Code}): {OriginUrl.Redact(url)}; check the user and password in the URL",
                    OriginUrl.Redact(url), reply.Code);
            }
            connection.Expect(reply, 230, 202);
            connection.Expect(await connection.SendAsync("TYPE I", cancellationToken).ConfigureAwait(false), 200);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>The path to send: RFC 1738, relative to the login directory (<c>%2F</c> makes it absolute).</summary>
    public static string PathOf(Uri url)
    {
        var path = Uri.UnescapeDataString(url.AbsolutePath);
        path = path.StartsWith('/') ? path[1..] : path;
        if (path.Length == 0 || path.AsSpan().ContainsAny('\r', '\n', '\0'))
        {
            throw new OriginException(OriginErrorKind.InvalidUrl, $"FTP URL has no usable file path: {OriginUrl.Redact(url)}", OriginUrl.Redact(url));
        }
        return path;
    }

    public async Task<FtpReply> SendAsync(string command, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(command + "\r\n");
        try
        {
            await _stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw Lost(e);
        }
        return await ReadReplyAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<FtpReply> ReadReplyAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_replyTimeout);
        try
        {
            var first = await ReadLineAsync(timeout.Token).ConfigureAwait(false);
            if (first.Length < 3 || !int.TryParse(first.AsSpan(0, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var code))
            {
                throw new OriginException(OriginErrorKind.Protocol, $"origin sent a malformed FTP reply: {OriginUrl.Redact(_url)}", OriginUrl.Redact(_url));
            }
            var text = new StringBuilder(first.Length > 4 ? first[4..] : "");
            if (first.Length > 3 && first[3] == '-')
            {
                // Multi-line reply: ends with a line that starts with the same code and a space.
                var end = first[..3] + " ";
                string line;
                do
                {
                    line = await ReadLineAsync(timeout.Token).ConfigureAwait(false);
                    text.Append('\n').Append(line.StartsWith(end, StringComparison.Ordinal) ? line[4..] : line);
                }
                while (!line.StartsWith(end, StringComparison.Ordinal));
            }
            return new FtpReply(code, text.ToString());
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OriginException(OriginErrorKind.Timeout,
                $"FTP origin did not answer within {_replyTimeout.TotalSeconds:0.#} s: {OriginUrl.Redact(_url)}", OriginUrl.Redact(_url));
        }
        catch (IOException e)
        {
            throw Lost(e);
        }
    }

    /// <summary>Opens a passive-mode data connection to the server.</summary>
    public async Task<TcpClient> OpenDataConnectionAsync(CancellationToken cancellationToken)
    {
        var server = ((IPEndPoint)_control.Client.RemoteEndPoint!).Address;
        int port;
        var reply = await SendAsync("EPSV", cancellationToken).ConfigureAwait(false);
        if (reply.Code == 229 && EpsvPort().Match(reply.Text) is { Success: true } epsv)
        {
            port = int.Parse(epsv.Groups[1].ValueSpan, CultureInfo.InvariantCulture);
        }
        else
        {
            reply = await SendAsync("PASV", cancellationToken).ConfigureAwait(false);
            if (reply.Code != 227 || PasvAddress().Match(reply.Text) is not { Success: true } pasv)
            {
                throw Unexpected(reply);
            }
            // The address in the reply is ignored (often a private address behind NAT): same host as the control connection.
            port = int.Parse(pasv.Groups[5].ValueSpan, CultureInfo.InvariantCulture) * 256 + int.Parse(pasv.Groups[6].ValueSpan, CultureInfo.InvariantCulture);
        }
        // The control connection's address, which passed the egress policy.
        return await ConnectAsync(_url, server.ToString(), port, _connectTimeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Throws the error a reply stands for unless its code is one of <paramref name="expected"/>.</summary>
    public void Expect(FtpReply reply, params int[] expected)
    {
        if (!expected.Contains(reply.Code))
        {
            throw Unexpected(reply);
        }
    }

    public OriginException Unexpected(FtpReply reply)
    {
        var redacted = OriginUrl.Redact(_url);
        return reply.Code switch
        {
            550 => OriginException.NotFound(_url, 550),
            530 => new(OriginErrorKind.AccessDenied, $"access denied by origin (FTP 530): {redacted}", redacted, 530),
            >= 400 and < 500 => new(OriginErrorKind.Unavailable, $"origin unavailable (FTP {reply.Code}): {redacted}", redacted, reply.Code),
            >= 500 => new(OriginErrorKind.Rejected, $"origin refused the request ({Shorten(reply)}): {redacted}", redacted, reply.Code),
            _ => new(OriginErrorKind.Protocol, $"origin sent an unexpected FTP reply ({Shorten(reply)}): {redacted}", redacted, reply.Code),
        };
    }

    public void Dispose()
    {
        _reader.Dispose();
        _stream.Dispose();
        _control.Dispose();
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken) =>
        await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false)
        ?? throw new IOException("the FTP control connection was closed by the origin");

    private OriginException Lost(IOException e) =>
        new(OriginErrorKind.Unavailable, $"FTP control connection to origin lost: {OriginUrl.Redact(_url)}", OriginUrl.Redact(_url), inner: e);

    private static async Task<TcpClient> ConnectAsync(
        Uri url, string host, int port, TimeSpan timeout, CancellationToken cancellationToken, EgressPolicy? egress = null)
    {
        var tcp = new TcpClient { NoDelay = true };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            if (egress is { IsRestricted: true })
            {
                tcp.Client = await egress.ConnectAsync(host, port, OriginUrl.Redact(url), deadline.Token).ConfigureAwait(false);
                return tcp;
            }
            await tcp.ConnectAsync(host, port, deadline.Token).ConfigureAwait(false);
            return tcp;
        }
        catch (OriginException)
        {
            tcp.Dispose();
            throw;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            tcp.Dispose();
            throw new OriginException(OriginErrorKind.Timeout, $"cannot connect to origin within {timeout.TotalSeconds:0.#} s: {OriginUrl.Redact(url)}", OriginUrl.Redact(url));
        }
        catch (SocketException e)
        {
            tcp.Dispose();
            throw e.SocketErrorCode == SocketError.HostNotFound
                ? new OriginException(OriginErrorKind.InvalidUrl, $"cannot resolve the host of {OriginUrl.Redact(url)}", OriginUrl.Redact(url), inner: e)
                : new OriginException(OriginErrorKind.Unavailable, $"cannot reach origin ({e.SocketErrorCode}): {OriginUrl.Redact(url)}", OriginUrl.Redact(url), inner: e);
        }
    }

    private static (string User, string Password) Credentials(Uri url, FtpOriginOptions options)
    {
        if (url.UserInfo.Length == 0)
        {
            return (options.AnonymousUser, options.AnonymousPassword);
        }
        var colon = url.UserInfo.IndexOf(':', StringComparison.Ordinal);
        var user = Uri.UnescapeDataString(colon < 0 ? url.UserInfo : url.UserInfo[..colon]);
        var password = colon < 0 ? "" : Uri.UnescapeDataString(url.UserInfo[(colon + 1)..]);
        if ((user + password).AsSpan().ContainsAny('\r', '\n'))
        {
            throw new OriginException(OriginErrorKind.InvalidUrl, $"FTP user or password has a line break: {OriginUrl.Redact(url)}", OriginUrl.Redact(url));
        }
        return (user, password);
    }

    private static string Shorten(FtpReply reply)
    {
        var text = reply.ToString();
        return text.Length > 100 ? text[..100] + "..." : text;
    }

    [GeneratedRegex(@"\(\|\|\|(\d{1,5})\|\)")]
    private static partial Regex EpsvPort();

    [GeneratedRegex(@"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")]
    private static partial Regex PasvAddress();
}
