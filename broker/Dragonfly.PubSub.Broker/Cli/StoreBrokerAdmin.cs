using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.Security;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Security;
using LiteDB;

namespace Dragonfly.PubSub.Broker.Cli;

/// <summary>The stopped broker: its LiteDB store opened directly (the running broker holds it exclusively).</summary>
internal sealed class StoreBrokerAdmin : IBrokerAdmin
{
    private readonly ManifestCatalogue _catalogue;
    private readonly SecurityAdmin _admin;

    private StoreBrokerAdmin(ManifestCatalogue catalogue, SecurityAdmin admin)
    {
        _catalogue = catalogue;
        _admin = admin;
    }

    /// <summary>Opens the store; for token creation (<paramref name="needCa"/>) also the CA to pin, created here on first use as the broker would.</summary>
    public static StoreBrokerAdmin Open(string dataDir, bool needCa, TextWriter stderr)
    {
        if (!needCa && !File.Exists(Path.Combine(dataDir, ManifestCatalogue.FileName)))
        {
            throw new UserFacingException($"no broker data in {dataDir} (no {ManifestCatalogue.FileName}); give the broker's --data-dir", ExitCodes.Failed);
        }
        var pin = needCa ? CaPin(dataDir, stderr) : "";
        ManifestCatalogue catalogue;
        try
        {
            catalogue = new ManifestCatalogue(dataDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or LiteException)
        {
            throw new UserFacingException(
                $"cannot open the broker's store in {dataDir}: {e.Message.TrimEnd('.')} (is a broker running without its admin socket {Configuration.BrokerOptions.AdminSocketName}?)",
                ExitCodes.Failed, e);
        }
        var store = new SecurityStore(catalogue.Database);
        return new StoreBrokerAdmin(catalogue, new SecurityAdmin(store, new RevocationList(store, TimeProvider.System), pin, TimeProvider.System));
    }

    public Task<TokenCreated> CreateTokenAsync(TokenRequest request, CancellationToken cancellationToken) => Task.FromResult(_admin.CreateToken(request));

    public Task<RevokeResult> RevokeTokenAsync(string id, CancellationToken cancellationToken) => Task.FromResult(_admin.RevokeToken(id));

    public Task<RevokeResult> RevokePeerAsync(string peerId, CancellationToken cancellationToken) => Task.FromResult(_admin.RevokePeer(peerId));

    public ValueTask DisposeAsync()
    {
        _catalogue.Dispose();
        return ValueTask.CompletedTask;
    }

    private static string CaPin(string dataDir, TextWriter stderr)
    {
        var directory = TlsFiles.DirectoryFor(dataDir);
        var caFile = Path.Combine(directory, TlsFiles.CaCertificate);
        try
        {
            if (File.Exists(caFile))
            {
                using var ca = TlsFiles.LoadCertificate(caFile);
                return JoinToken.PinOf(ca);
            }
            using var created = FleetCa.LoadOrCreate(directory);
            stderr.WriteLine($"dfbroker: created the fleet CA in {directory} (the broker uses it when it starts with this --data-dir)");
            return created.Pin;
        }
        catch (TlsFileException e)
        {
            throw new UserFacingException(e.Message, ExitCodes.Failed, e);
        }
    }
}
