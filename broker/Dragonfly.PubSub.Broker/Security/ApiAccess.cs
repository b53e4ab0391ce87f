namespace Dragonfly.PubSub.Broker.Security;

/// <summary>What a request to the broker's HTTP port needs (see <see cref="ApiAccessRules"/>).</summary>
public enum ApiAccess
{
    /// <summary>Anyone: health, metrics, the CA certificate, enrolment and renewal (which check their own credentials).</summary>
    Public,

    /// <summary>From loopback, or with a token of scope read (or a fleet certificate of role admin or publisher).</summary>
    Read,

    /// <summary>A token of scope preheat, or a fleet certificate the preheat endpoint's own gate accepts.</summary>
    Preheat,

    /// <summary>No rule: a write no endpoint of the HTTP API accepts from another host.</summary>
    Refused,
}
