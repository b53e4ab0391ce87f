using Dragonfly.PubSub.Broker.Security;

namespace Dragonfly.PubSub.Broker.Cli;

/// <summary>Where <c>dfbroker token|cert</c> sends its work: the running broker's admin socket, or the stopped broker's store.</summary>
internal interface IBrokerAdmin : IAsyncDisposable
{
    Task<TokenCreated> CreateTokenAsync(TokenRequest request, CancellationToken cancellationToken);

    Task<RevokeResult> RevokeTokenAsync(string id, CancellationToken cancellationToken);

    Task<RevokeResult> RevokePeerAsync(string peerId, CancellationToken cancellationToken);
}
