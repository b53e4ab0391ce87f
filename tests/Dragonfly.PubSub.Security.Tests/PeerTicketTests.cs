using System.Net;
using System.Security.Cryptography;

namespace Dragonfly.PubSub.Security.Tests;

/// <summary>
/// The peer tickets of issue 11 (attack 4): what a serving peer accepts, with real certificates of a
/// fleet CA and of another one.
/// </summary>
public sealed class PeerTicketTests : IDisposable
{
    private static readonly byte[] Task = SHA256.HashData("sha256:task"u8);
    private readonly FleetCa _ca = FleetCa.Create("fleet");
    private readonly FleetCa _otherCa = FleetCa.Create("fleet");

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
    }

    [Fact]
    public void Ticket_SignedByTheBroker_ForTheCaller_IsAccepted_WithItsFields()
    {
        using var broker = Issue(_ca, "dfbroker", PeerRole.Broker);
        var verifier = Verifier(_ca, "agent-2");
        var expires = DateTimeOffset.UtcNow.AddHours(1);

        var ticket = verifier.Verify(PeerTicket.Sign(Task, "agent-1", expires, broker), "agent-1", out var problem);

        Assert.True(ticket is not null, problem);
        Assert.Equal(Task, ticket.TaskKey);
        Assert.Equal("agent-1", ticket.PeerId);
        Assert.Equal(expires.ToUnixTimeSeconds(), ticket.Expires.ToUnixTimeSeconds());
    }

    [Fact]
    public void Ticket_PresentedByAnotherPeer_IsRefused()
    {
        using var broker = Issue(_ca, "dfbroker", PeerRole.Broker);
        var bytes = PeerTicket.Sign(Task, "agent-1", DateTimeOffset.UtcNow.AddHours(1), broker);

        Assert.Null(Verifier(_ca, "agent-2").Verify(bytes, "agent-3", out var problem));
        Assert.Contains("issued to peer agent-1, presented by peer agent-3", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Ticket_Expired_IsRefused()
    {
        using var broker = Issue(_ca, "dfbroker", PeerRole.Broker);
        var bytes = PeerTicket.Sign(Task, "agent-1", DateTimeOffset.UtcNow.AddSeconds(-1), broker);

        Assert.Null(Verifier(_ca, "agent-2").Verify(bytes, "agent-1", out var problem));
        Assert.Contains("expired", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Ticket_SignedByAnAgent_OrAnotherFleet_IsRefused()
    {
        // Any enrolled agent holds a fleet certificate with a key: it must not mint tickets for itself.
        using var agent = Issue(_ca, "agent-1", PeerRole.Agent);
        var selfMade = PeerTicket.Sign(Task, "agent-1", DateTimeOffset.UtcNow.AddHours(1), agent);
        Assert.Null(Verifier(_ca, "agent-2").Verify(selfMade, "agent-1", out var problem));
        Assert.Contains("not by a broker", problem, StringComparison.Ordinal);

        using var foreignBroker = Issue(_otherCa, "dfbroker", PeerRole.Broker);
        var foreign = PeerTicket.Sign(Task, "agent-1", DateTimeOffset.UtcNow.AddHours(1), foreignBroker);
        Assert.Null(Verifier(_ca, "agent-2").Verify(foreign, "agent-1", out problem));
        Assert.Contains("not signed by this fleet's broker", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Ticket_WithAChangedField_DoesNotVerify()
    {
        using var broker = Issue(_ca, "dfbroker", PeerRole.Broker);
        var bytes = PeerTicket.Sign(Task, "agent-1", DateTimeOffset.UtcNow.AddHours(1), broker);
        var verifier = Verifier(_ca, "agent-2");

        // Another task, and a later expiry: each byte of the body is covered by the signature.
        foreach (var at in new[] { 4, 4 + 32 + 6 })
        {
            var changed = (byte[])bytes.Clone();
            changed[at] ^= 1;
            Assert.Null(verifier.Verify(changed, "agent-1", out var problem));
            Assert.Equal("a ticket whose signature does not verify", problem);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(45)]
    [InlineData(200)]
    public void Ticket_Truncated_IsRefused_WithoutThrowing(int length)
    {
        using var broker = Issue(_ca, "dfbroker", PeerRole.Broker);
        var bytes = PeerTicket.Sign(Task, "agent-1", DateTimeOffset.UtcNow.AddHours(1), broker);

        Assert.Null(Verifier(_ca, "agent-2").Verify(bytes.AsSpan(0, Math.Min(length, bytes.Length - 1)), "agent-1", out var problem));
        Assert.NotNull(problem);
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 Issue(FleetCa ca, string peerId, PeerRole role) =>
        ca.IssueWithNewKey(new PeerIdentity(peerId, role, []), TimeSpan.FromHours(1), ["localhost"], [IPAddress.Loopback]);

    private static PeerTicketVerifier Verifier(FleetCa ca, string self)
    {
        var identity = new TlsIdentity([ca.Certificate], Issue(ca, self, PeerRole.Agent), TlsCiphers.Default);
        return new PeerTicketVerifier(() => identity);
    }
}
