using System.Formats.Asn1;
using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Security;

/// <summary>
/// Writes and reads the subjectAltName extension (RFC 5280 §4.2.1.6) directly with ASN.1, because
/// <see cref="SubjectAlternativeNameBuilder"/> normalises URIs through <see cref="Uri"/> (which may
/// un-escape the percent-encoded topic filters) and .NET has no reader for URI names.
/// </summary>
internal static class SubjectAltNames
{
    public const string Oid = "2.5.29.17";
    private static readonly Asn1Tag DnsTag = new(TagClass.ContextSpecific, 2);
    private static readonly Asn1Tag UriTag = new(TagClass.ContextSpecific, 6);
    private static readonly Asn1Tag IpTag = new(TagClass.ContextSpecific, 7);

    public static X509Extension Build(IEnumerable<string> uris, IEnumerable<string> dnsNames, IEnumerable<IPAddress> addresses)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            foreach (var dns in dnsNames)
            {
                writer.WriteCharacterString(UniversalTagNumber.IA5String, dns, DnsTag);
            }
            foreach (var address in addresses)
            {
                writer.WriteOctetString(address.GetAddressBytes(), IpTag);
            }
            foreach (var uri in uris)
            {
                writer.WriteCharacterString(UniversalTagNumber.IA5String, uri, UriTag);
            }
        }
        return new X509Extension(Oid, writer.Encode(), critical: false);
    }

    /// <summary>The URI names of a certificate's subjectAltName; empty without one. Malformed extensions read as empty.</summary>
    public static IReadOnlyList<string> Uris(X509Certificate2 certificate)
    {
        var extension = certificate.Extensions[Oid];
        if (extension is null)
        {
            return [];
        }
        try
        {
            var uris = new List<string>();
            var reader = new AsnReader(extension.RawData, AsnEncodingRules.DER);
            var names = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            while (names.HasData)
            {
                var tag = names.PeekTag();
                if (tag.HasSameClassAndValue(UriTag))
                {
                    uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, UriTag));
                }
                else
                {
                    names.ReadEncodedValue();
                }
            }
            return uris;
        }
        catch (AsnContentException)
        {
            return [];
        }
    }
}
