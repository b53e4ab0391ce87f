using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// The open scheduler streams by authenticated peer id, so that revoking a peer can cut its streams at
/// once (by aborting their HTTP/2 requests; the scheduler then ends the session as for a peer that went away).
/// </summary>
public sealed class LiveSchedulerStreams
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<HttpContext, byte>> _byPeer = new(StringComparer.Ordinal);

    public IDisposable Register(string peerId, HttpContext request)
    {
        var streams = _byPeer.GetOrAdd(peerId, _ => new ConcurrentDictionary<HttpContext, byte>());
        streams[request] = 0;
        return new Registration(streams, request);
    }

    /// <summary>Aborts every open stream of a peer; returns how many.</summary>
    public int Abort(string peerId)
    {
        if (!_byPeer.TryGetValue(peerId, out var streams))
        {
            return 0;
        }
        var count = 0;
        foreach (var request in streams.Keys)
        {
            request.Abort();
            count++;
        }
        return count;
    }

    private sealed class Registration(ConcurrentDictionary<HttpContext, byte> streams, HttpContext request) : IDisposable
    {
        public void Dispose() => streams.TryRemove(request, out _);
    }
}
