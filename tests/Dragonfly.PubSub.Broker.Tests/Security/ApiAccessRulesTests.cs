using Dragonfly.PubSub.Broker.Security;

namespace Dragonfly.PubSub.Broker.Tests.Security;

/// <summary>The HTTP API's access table (issue 11): public paths, reads, preheat, and no rule = refused writes.</summary>
public sealed class ApiAccessRulesTests
{
    [Theory]
    [InlineData("GET", "/healthz", ApiAccess.Public)]
    [InlineData("HEAD", "/metrics", ApiAccess.Public)]
    [InlineData("GET", "/api/v1/ca", ApiAccess.Public)]
    [InlineData("POST", "/api/v1/enroll", ApiAccess.Public)]
    [InlineData("POST", "/api/v1/renew", ApiAccess.Public)]
    [InlineData("POST", "/api/v1/preheat", ApiAccess.Preheat)]
    [InlineData("POST", "/API/V1/PREHEAT/", ApiAccess.Preheat)]
    [InlineData("POST", "/api/v1/preheat/abc/cancel", ApiAccess.Preheat)]
    [InlineData("GET", "/api/v1/preheat/abc", ApiAccess.Read)]
    [InlineData("GET", "/api/v1/tasks", ApiAccess.Read)]
    [InlineData("GET", "/api/v1/anything-added-later", ApiAccess.Read)]
    [InlineData("GET", "/", ApiAccess.Read)]
    [InlineData("GET", "/dashboard/peers", ApiAccess.Read)]
    [InlineData("GET", "/metricsx", ApiAccess.Read)]
    [InlineData("GET", "/api/v1/cax", ApiAccess.Read)]
    [InlineData("POST", "/api/v1/preheatx", ApiAccess.Refused)]
    [InlineData("POST", "/api/v1/tasks", ApiAccess.Refused)]
    [InlineData("DELETE", "/api/v1/preheat/abc", ApiAccess.Refused)]
    [InlineData("PUT", "/", ApiAccess.Refused)]
    public void For_MapsMethodAndPath(string method, string path, ApiAccess expected)
    {
        Assert.Equal(expected, ApiAccessRules.For(method, path));
    }

    [Fact]
    public void ApiToken_RoundTrips_AndRefusesOtherText()
    {
        var token = ApiToken.Create();
        Assert.True(ApiToken.TryParse(token.ToString(), out var parsed));
        Assert.Equal(token, parsed);
        Assert.True(parsed.SecretMatches(token.SecretHash));
        Assert.False(ApiToken.TryParse("dfj1." + token.Id + "." + token.Secret + "." + token.Secret, out _));
        Assert.False(ApiToken.TryParse("dfa1." + token.Id, out _));
        Assert.False(ApiToken.TryParse(null, out _));
    }
}
